/* libFuzzer target: the Retry-After parser (delta-seconds or an HTTP date). Whatever the value —
 * a thousand digits, a sign, a date far off — the answer is -1 (unreadable) or a finite number
 * of seconds >= 0: the caller compares it with the cap, so it must never be NaN or infinite. */
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
    if (!(d == -1 || (d >= 0 && d <= 1e301))) abort(); /* NaN, negative or infinite: a bug */
    free(s);
    return 0;
}
