/* Shared fences (docs/protocol.md, "17 CREATE_FENCE" ... "22 LIST_FENCES"),
   service fences among them. */
#define _GNU_SOURCE
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

glbridge_status glbridge_create_fence(glbridge_client *c, uint64_t initial, int sem_fd, uint32_t *kmt)
{
    glbridge_status st;
    glb_reply r;
    unsigned char *p;
    unsigned nfds = sem_fd >= 0 ? 1 : 0;

    if (kmt)
        *kmt = 0;
    if (!c || !kmt || sem_fd < -1)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    p = glb_payload(c);
    glb_put32(p + 0, 0);
    glb_put32(p + 4, nfds ? GLBRIDGE_SYNC_TIMELINE : GLBRIDGE_SYNC_NONE);
    glb_put64(p + 8, initial);
    st = glb_call(c, GLB_CREATE_FENCE, 16, nfds ? &sem_fd : NULL, nfds, 0, &r);
    if (st == GLBRIDGE_OK) {
        if (r.len != 8)
            st = glb_protocol(c, &r, "CREATE_FENCE reply is not 8 bytes");
        else
            *kmt = glb_get32(r.payload);
        if (st == GLBRIDGE_OK)
            glb_track_create_fence(c, *kmt, initial, sem_fd, NULL, NULL);
    }
    glb_unlock(c);
    return st;
}

glbridge_status glbridge_create_fence_service(glbridge_client *c, uint64_t initial, const uint8_t driver_uuid[16],
                                              const uint8_t device_uuid[16], uint32_t *kmt, int *sem_fd)
{
    glbridge_status st;
    glb_reply r;
    unsigned char *p;

    if (kmt)
        *kmt = 0;
    if (sem_fd)
        *sem_fd = -1;
    if (!c || !driver_uuid || !device_uuid || !kmt || !sem_fd)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    p = glb_payload(c);
    glb_put32(p + 0, GLB_FENCE_SERVICE);
    glb_put32(p + 4, GLBRIDGE_SYNC_TIMELINE);
    glb_put64(p + 8, initial);
    memcpy(p + 16, driver_uuid, 16);
    memcpy(p + 32, device_uuid, 16);
    st = glb_call(c, GLB_CREATE_FENCE, 48, NULL, 0, 1, &r);
    if (st == GLBRIDGE_OK) {
        if (r.len != 8)
            st = glb_protocol(c, &r, "CREATE_FENCE reply is not 8 bytes");
        else if (r.nfds != 1)
            st = glb_protocol(c, &r, "a service fence's CREATE_FENCE reply without its semaphore fd");
        if (st == GLBRIDGE_OK) {
            *kmt = glb_get32(r.payload);
            *sem_fd = r.fds[0];
            r.nfds = 0;
            glb_track_create_fence(c, *kmt, initial, *sem_fd, driver_uuid, device_uuid);
        }
    }
    glb_unlock(c);
    return st;
}

/* open_fence sends OPEN_FENCE by kmt, name (nl bytes) or token, exactly
   one of them set, and hands the reply's semaphore fd (if any) to the
   caller. */
static glbridge_status open_fence(glbridge_client *c, uint32_t kmt, uint32_t access, const char *name,
                                  uint64_t token, glbridge_fence *f, int *sem_fd)
{
    glbridge_status st;
    glb_reply r;
    unsigned char *p;
    size_t nl = 0;
    unsigned want;

    if (f)
        memset(f, 0, sizeof *f);
    if (sem_fd)
        *sem_fd = -1;
    if (!c || !f || !sem_fd)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    if (name && (st = glb_check_name(c, name, &nl)) != GLBRIDGE_OK)
        goto out;
    p = glb_payload(c);
    glb_put32(p + 0, kmt);
    glb_put32(p + 4, access);
    glb_put32(p + 8, (uint32_t)nl);
    glb_put32(p + 12, 0);
    glb_put64(p + 16, token);
    if (nl)
        memcpy(p + 24, name, nl);
    st = glb_call(c, GLB_OPEN_FENCE, 24 + (uint32_t)nl, NULL, 0, 1, &r);
    if (st != GLBRIDGE_OK)
        goto out;
    if (glb_parse_fence_record(r.payload, r.len, f) != 0) {
        st = glb_protocol(c, &r, "bad fence record");
        goto out;
    }
    want = f->sync_kind == GLBRIDGE_SYNC_TIMELINE ? 1 : 0;
    if (r.nfds != want) {
        memset(f, 0, sizeof *f);
        st = glb_protocol(c, &r, "fd count differs from the fence's sync kind");
        goto out;
    }
    if (want) {
        *sem_fd = r.fds[0];
        r.nfds = 0;
    }
    glb_track_open_fence(c, f, *sem_fd, name, nl);
out:
    glb_unlock(c);
    return st;
}

glbridge_status glbridge_open_fence_kmt(glbridge_client *c, uint32_t kmt, glbridge_fence *fence, int *sem_fd)
{
    return open_fence(c, kmt, 0, NULL, 0, fence, sem_fd);
}

glbridge_status glbridge_open_fence_name(glbridge_client *c, const char *name, uint32_t access,
                                         glbridge_fence *fence, int *sem_fd)
{
    if (!name) {
        if (fence)
            memset(fence, 0, sizeof *fence);
        if (sem_fd)
            *sem_fd = -1;
        return GLBRIDGE_E_ARGUMENT;
    }
    return open_fence(c, 0, access, name, 0, fence, sem_fd);
}

glbridge_status glbridge_open_fence_duplicate(glbridge_client *c, uint64_t token, glbridge_fence *fence,
                                              int *sem_fd)
{
    return open_fence(c, 0, 0, NULL, token, fence, sem_fd);
}

/* fence_value_call sends the request through handle whose payload (len
   bytes) is written, and decodes its fence value reply into *out (may be
   NULL). */
static glbridge_status fence_value_call(glbridge_client *c, uint16_t type, uint32_t handle, uint32_t len,
                                        glbridge_fence_value *out)
{
    glbridge_fence_value v;
    glb_reply r;
    glbridge_status st = glb_call(c, type, len, NULL, 0, 0, &r);
    if (st != GLBRIDGE_OK)
        return st;
    if (glb_parse_fence_value(r.payload, r.len, &v) != 0)
        return glb_protocol(c, &r, "fence value reply is not 24 bytes");
    glb_track_fence_value(c, handle, &v);
    if (out)
        *out = v;
    return GLBRIDGE_OK;
}

static glbridge_status signal_fence(glbridge_client *c, uint32_t handle, uint32_t flags, uint64_t value,
                                    uint64_t offset, glbridge_fence_value *out)
{
    glbridge_status st;
    unsigned char *p;

    if (out)
        memset(out, 0, sizeof *out);
    if (!c)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    p = glb_payload(c);
    glb_put32(p + 0, handle);
    glb_put32(p + 4, flags);
    glb_put64(p + 8, value);
    glb_put64(p + 16, offset);
    st = fence_value_call(c, GLB_SIGNAL_FENCE, handle, 24, out);
    glb_unlock(c);
    return st;
}

glbridge_status glbridge_signal_fence(glbridge_client *c, uint32_t handle, uint64_t value,
                                      glbridge_fence_value *out)
{
    return signal_fence(c, handle, 0, value, 0, out);
}

glbridge_status glbridge_rebase_fence(glbridge_client *c, uint32_t handle, uint64_t value, uint64_t offset,
                                      glbridge_fence_value *out)
{
    return signal_fence(c, handle, GLB_SIGNAL_REBASE, value, offset, out);
}

glbridge_status glbridge_host_signal_fence(glbridge_client *c, uint32_t handle, uint64_t value,
                                           glbridge_fence_value *out)
{
    return signal_fence(c, handle, GLB_SIGNAL_HOST, value, 0, out);
}

glbridge_status glbridge_wait_fence(glbridge_client *c, uint32_t handle, uint64_t value, uint32_t timeout_ms,
                                    glbridge_fence_value *out)
{
    glbridge_status st;
    unsigned char *p;

    if (out)
        memset(out, 0, sizeof *out);
    if (!c)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    p = glb_payload(c);
    glb_put32(p + 0, handle);
    glb_put32(p + 4, timeout_ms);
    glb_put64(p + 8, value);
    st = fence_value_call(c, GLB_WAIT_FENCE, handle, 16, out);
    glb_unlock(c);
    return st;
}

glbridge_status glbridge_get_fence(glbridge_client *c, uint32_t handle, glbridge_fence_value *out)
{
    glbridge_status st;
    unsigned char *p;

    if (out)
        memset(out, 0, sizeof *out);
    if (!c || !out)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    p = glb_payload(c);
    glb_put32(p + 0, handle);
    glb_put32(p + 4, 0);
    st = fence_value_call(c, GLB_GET_FENCE, handle, 8, out);
    glb_unlock(c);
    return st;
}

/* ---- LIST_FENCES ---- */

void glbridge_list_fences_free(glbridge_fence_entry *e, size_t count)
{
    size_t i, k;
    if (!e)
        return;
    for (i = 0; i < count; i++)
        for (k = 0; k < GLBRIDGE_MAX_NAMES; k++)
            free(e[i].names[k]);
    free(e);
}

/* parse_fence_entry parses one entry at p (avail bytes left); returns its
   length, 0 when malformed, -1 out of memory (the entry is then partly
   filled: the caller frees it). */
static long parse_fence_entry(const unsigned char *p, uint32_t avail, glbridge_fence_entry *e)
{
    uint32_t off = 52, nc;
    int parsed;
    if (avail < 52)
        return 0;
    e->kmt = glb_get32(p + 0);
    e->creator_pid = (int32_t)glb_get32(p + 4);
    e->refs = glb_get32(p + 8);
    e->nt_handles = glb_get32(p + 12);
    e->waiters = glb_get32(p + 16);
    e->flags = glb_get32(p + 20);
    e->value.value = glb_get64(p + 24);
    e->value.signals = glb_get64(p + 32);
    e->value.offset = glb_get64(p + 40);
    nc = glb_get16(p + 48);
    if ((e->flags & ~(GLBRIDGE_FENCE_CREATOR_CONNECTED | GLBRIDGE_FENCE_TIMELINE | GLBRIDGE_FENCE_SERVICE)) ||
        ((e->flags & GLBRIDGE_FENCE_SERVICE) && !(e->flags & GLBRIDGE_FENCE_TIMELINE)) || glb_get16(p + 50) != 0 ||
        nc > GLBRIDGE_MAX_NAMES)
        return 0;
    parsed = glb_parse_names(p, avail, &off, nc, e->names, &e->name_count);
    if (parsed != 1)
        return parsed; /* 0 malformed, -1 out of memory */
    return (long)off;
}

int glb_parse_fence_list_page(const unsigned char *p, uint32_t len, glbridge_fence_entry **all, size_t *n,
                              size_t *cap, uint32_t *next)
{
    uint32_t cnt, off, i;

    *next = 0;
    if (len < 8)
        return -1;
    *next = glb_get32(p);
    cnt = glb_get32(p + 4);
    if (cnt > (len - 8) / 52)
        return -1;
    if (*n + cnt > *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        glbridge_fence_entry *na;
        while (ncap < *n + cnt)
            ncap *= 2;
        na = realloc(*all, ncap * sizeof *na);
        if (!na)
            return -2;
        *all = na;
        *cap = ncap;
    }
    off = 8;
    for (i = 0; i < cnt; i++) {
        long l;
        memset(&(*all)[*n], 0, sizeof (*all)[*n]);
        l = parse_fence_entry(p + off, len - off, &(*all)[*n]);
        (*n)++;
        if (l == -1)
            return -2;
        if (l == 0)
            return -1;
        off += (uint32_t)l;
    }
    if (off != len)
        return -1;
    return 0;
}

/* A fence listing's state, for glb_list_pages' parser. */
struct fence_pages {
    glbridge_fence_entry *all;
    size_t n, cap;
};

static int parse_fence_page(void *ctx, const unsigned char *p, uint32_t len, uint32_t *next)
{
    struct fence_pages *l = ctx;
    return glb_parse_fence_list_page(p, len, &l->all, &l->n, &l->cap, next);
}

glbridge_status glbridge_list_fences(glbridge_client *c, glbridge_fence_entry **entries, size_t *count)
{
    struct fence_pages l = {NULL, 0, 0};
    glbridge_status st;

    if (entries)
        *entries = NULL;
    if (count)
        *count = 0;
    if (!c || !entries || !count)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_list_pages(c, GLB_LIST_FENCES, 0, parse_fence_page, &l, "LIST_FENCES")) != GLBRIDGE_OK) {
        glbridge_list_fences_free(l.all, l.n);
        return st;
    }
    *entries = l.n ? l.all : NULL;
    if (!l.n)
        free(l.all);
    *count = l.n;
    return GLBRIDGE_OK;
}
