/* core_buf.c — the byte buffer that libcurl's write and header callbacks fill. */
#include <stdlib.h>
#include <string.h>
#include "core.h"

int cbuf_append(cbuf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *nd;
        while (cap < b->len + n + 1) cap *= 2;
        nd = realloc(b->data, cap);
        if (nd == NULL) return 0;
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 1;
}

void cbuf_free(cbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
