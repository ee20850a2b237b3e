/* Keyed-mutex objects (docs/protocol.md, "24 CREATE_KEYED_MUTEX", "25
   OPEN_KEYED_MUTEX", and "22 LIST_FENCES" with KEYED_MUTEXES). */
#define _GNU_SOURCE
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* keyed_mutex_reply decodes a CREATE_KEYED_MUTEX or OPEN_KEYED_MUTEX
   reply (no fds: glb_call allowed none) into *out. */
static glbridge_status keyed_mutex_reply(glbridge_client *c, glb_reply *r, glbridge_keyed_mutex *out)
{
    int e = glb_parse_keyed_mutex_record(r->payload, r->len, out);
    if (e == -2)
        return glb_fail(c, GLBRIDGE_E_NO_MEMORY, "out of memory");
    if (e != 0)
        return glb_protocol(c, r, "bad keyed-mutex record");
    return GLBRIDGE_OK;
}

glbridge_status glbridge_create_keyed_mutex(glbridge_client *c, uint32_t resource, uint32_t sync, const void *data,
                                            uint32_t data_len, glbridge_keyed_mutex *out)
{
    glbridge_status st;
    glb_reply r;
    unsigned char *p;

    if (out)
        memset(out, 0, sizeof *out);
    if (!c || !out || (data_len && !data))
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    if (data_len > GLBRIDGE_MAX_PRIVATE_DATA) {
        st = glb_fail(c, GLBRIDGE_E_TOO_LARGE, "private data of %u bytes", (unsigned)data_len);
        goto out;
    }
    p = glb_payload(c);
    glb_put32(p + 0, resource);
    glb_put32(p + 4, sync);
    glb_put32(p + 8, data_len);
    glb_put32(p + 12, 0);
    if (data_len)
        memcpy(p + 16, data, data_len);
    st = glb_call(c, GLB_CREATE_KEYED_MUTEX, 16 + data_len, NULL, 0, 0, &r);
    if (st == GLBRIDGE_OK)
        st = keyed_mutex_reply(c, &r, out);
    if (st == GLBRIDGE_OK)
        glb_track_keyed_mutex(c, out, 1);
out:
    glb_unlock(c);
    return st;
}

glbridge_status glbridge_open_keyed_mutex(glbridge_client *c, uint32_t kmt, glbridge_keyed_mutex *out)
{
    glbridge_status st;
    glb_reply r;
    unsigned char *p;

    if (out)
        memset(out, 0, sizeof *out);
    if (!c || !out)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    p = glb_payload(c);
    glb_put32(p + 0, kmt);
    glb_put32(p + 4, 0);
    st = glb_call(c, GLB_OPEN_KEYED_MUTEX, 8, NULL, 0, 0, &r);
    if (st == GLBRIDGE_OK)
        st = keyed_mutex_reply(c, &r, out);
    if (st == GLBRIDGE_OK)
        glb_track_keyed_mutex(c, out, 0);
    glb_unlock(c);
    return st;
}

/* ---- LIST_FENCES with KEYED_MUTEXES ---- */

void glbridge_list_keyed_mutexes_free(glbridge_keyed_mutex_entry *e, size_t count)
{
    (void)count; /* the entries own nothing */
    free(e);
}

/* parse_keyed_mutex_entry parses one 64-byte entry: 0, or -1 when
   malformed (a state above 2, unknown flags). The holder is reported
   only while held. */
static int parse_keyed_mutex_entry(const unsigned char *p, glbridge_keyed_mutex_entry *e)
{
    e->kmt = glb_get32(p + 0);
    e->resource = glb_get32(p + 4);
    e->sync = glb_get32(p + 8);
    e->creator_pid = (int32_t)glb_get32(p + 12);
    e->refs = glb_get32(p + 16);
    e->waiters = glb_get32(p + 20);
    e->state = glb_get32(p + 24);
    e->events = glb_get32(p + 36);
    e->data_len = glb_get32(p + 40);
    e->flags = glb_get32(p + 44);
    e->last_key = glb_get64(p + 48);
    e->last_value = glb_get64(p + 56);
    if (e->state > 2 || (e->flags & ~GLBRIDGE_KEYED_MUTEX_CREATOR_CONNECTED))
        return -1;
    if (e->state == 1) {
        e->holder_pid = (int32_t)glb_get32(p + 28);
        e->holder_conn = glb_get32(p + 32);
    }
    return 0;
}

int glb_parse_keyed_mutex_list_page(const unsigned char *p, uint32_t len, glbridge_keyed_mutex_entry **all,
                                    size_t *n, size_t *cap, uint32_t *next)
{
    uint32_t cnt, i;

    *next = 0;
    if (len < 8)
        return -1;
    *next = glb_get32(p);
    cnt = glb_get32(p + 4);
    if (cnt > (len - 8) / GLB_KEYED_MUTEX_ENTRY_SIZE || 8u + cnt * GLB_KEYED_MUTEX_ENTRY_SIZE != len)
        return -1;
    if (*n + cnt > *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        glbridge_keyed_mutex_entry *na;
        while (ncap < *n + cnt)
            ncap *= 2;
        na = realloc(*all, ncap * sizeof *na);
        if (!na)
            return -2;
        *all = na;
        *cap = ncap;
    }
    for (i = 0; i < cnt; i++) {
        memset(&(*all)[*n], 0, sizeof (*all)[*n]);
        if (parse_keyed_mutex_entry(p + 8 + GLB_KEYED_MUTEX_ENTRY_SIZE * i, &(*all)[*n]) != 0)
            return -1;
        (*n)++;
    }
    return 0;
}

/* A keyed-mutex listing's state, for glb_list_pages' parser. */
struct mutex_pages {
    glbridge_keyed_mutex_entry *all;
    size_t n, cap;
};

static int parse_mutex_page(void *ctx, const unsigned char *p, uint32_t len, uint32_t *next)
{
    struct mutex_pages *l = ctx;
    return glb_parse_keyed_mutex_list_page(p, len, &l->all, &l->n, &l->cap, next);
}

glbridge_status glbridge_list_keyed_mutexes(glbridge_client *c, glbridge_keyed_mutex_entry **entries, size_t *count)
{
    struct mutex_pages l = {NULL, 0, 0};
    glbridge_status st;

    if (entries)
        *entries = NULL;
    if (count)
        *count = 0;
    if (!c || !entries || !count)
        return GLBRIDGE_E_ARGUMENT;
    st = glb_list_pages(c, GLB_LIST_FENCES, GLB_LIST_KEYED_MUTEXES, parse_mutex_page, &l, "keyed-mutex list");
    if (st != GLBRIDGE_OK) {
        glbridge_list_keyed_mutexes_free(l.all, l.n);
        return st;
    }
    *entries = l.n ? l.all : NULL;
    if (!l.n)
        free(l.all);
    *count = l.n;
    return GLBRIDGE_OK;
}
