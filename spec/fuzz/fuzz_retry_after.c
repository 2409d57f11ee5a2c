/* libFuzzer target: the Retry-After parser (delta-seconds or an HTTP date). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../../csrc/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    double d;
    if (s == NULL) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    d = errors_retry_after(s);
    if (!(d == -1 || d >= 0)) abort(); /* a NaN or a negative wait would be a bug */
    free(s);
    return 0;
}
