/* The requests of protocol version 2. */
#define _GNU_SOURCE
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fds_reset(glbridge_fds *f)
{
    f->memory = -1;
    f->sync[0] = -1;
    f->sync[1] = -1;
}

void glbridge_fds_close(glbridge_fds *f)
{
    unsigned i;
    if (!f)
        return;
    if (f->memory >= 0)
        close(f->memory);
    for (i = 0; i < GLBRIDGE_MAX_SYNC_OBJECTS; i++)
        if (f->sync[i] >= 0)
            close(f->sync[i]);
    fds_reset(f);
}

/* record_fds hands the reply's fds to the caller for the record rec
   parsed from it (e the parse's result): 1 + sync_count of them
   (with_fds), or none. */
static glbridge_status record_fds(glbridge_client *c, glb_reply *r, int e, int with_fds,
                                  glbridge_record *rec, glbridge_fds *fds)
{
    unsigned i;
    if (e == -2) {
        glb_close_fds(r);
        return glb_fail(c, GLBRIDGE_E_NO_MEMORY, "out of memory");
    }
    if (e != 0)
        return glb_protocol(c, r, "bad resource record");
    if (!with_fds) {
        if (r->nfds != 0) {
            glbridge_record_free(rec);
            return glb_protocol(c, r, "fds on a QUERY reply");
        }
        return GLBRIDGE_OK;
    }
    if (r->nfds != 1 + rec->sync_count) {
        glbridge_record_free(rec);
        return glb_protocol(c, r, "fd count differs from 1 + sync_count");
    }
    fds->memory = r->fds[0];
    for (i = 0; i < rec->sync_count; i++)
        fds->sync[i] = r->fds[1 + i];
    r->nfds = 0;
    return GLBRIDGE_OK;
}

/* record_reply parses a resource record reply that carries 1 + sync_count
   fds (with_fds) or none, handing the fds to the caller. */
static glbridge_status record_reply(glbridge_client *c, glb_reply *r, int with_fds,
                                    glbridge_record *rec, glbridge_fds *fds)
{
    return record_fds(c, r, glb_parse_record(r->payload, r->len, rec), with_fds, rec, fds);
}

glbridge_status glb_check_name(glbridge_client *c, const char *name, size_t *len)
{
    size_t n = strlen(name);
    *len = 0;
    if (n == 0 || n > GLBRIDGE_MAX_NAME_LEN)
        return glb_fail(c, GLBRIDGE_E_BAD_NAME, "name of %lu bytes (must be 1 to 255)",
                        (unsigned long)n);
    *len = n;
    return GLBRIDGE_OK;
}

glbridge_status glbridge_allocate(glbridge_client *c, const glbridge_allocate_params *prm,
                                  glbridge_record *rec, glbridge_fds *fds)
{
    glbridge_status st;
    glb_reply r;
    unsigned char *p;

    if (rec)
        memset(rec, 0, sizeof *rec);
    if (fds)
        fds_reset(fds);
    if (!c || !prm || !rec || !fds || (prm->data_len && !prm->data))
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    if (prm->data_len > GLBRIDGE_MAX_PRIVATE_DATA) {
        st = glb_fail(c, GLBRIDGE_E_TOO_LARGE, "private data of %u bytes", (unsigned)prm->data_len);
        goto out;
    }
    p = glb_payload(c);
    glb_put32(p + 0, prm->flags);
    glb_put32(p + 4, prm->sync_kind);
    glb_put32(p + 8, prm->sync_count);
    glb_put32(p + 12, prm->data_len);
    glb_put_desc(p + 16, &prm->desc);
    memcpy(p + 56, prm->driver_uuid, 16);
    memcpy(p + 72, prm->device_uuid, 16);
    if (prm->data_len)
        memcpy(p + 88, prm->data, prm->data_len);
    st = glb_call(c, GLB_ALLOCATE, 88 + prm->data_len, NULL, 0,
                       1 + GLBRIDGE_MAX_SYNC_OBJECTS, &r);
    if (st == GLBRIDGE_OK)
        st = record_reply(c, &r, 1, rec, fds);
    if (st == GLBRIDGE_OK)
        glb_track_record(c, GLB_ALLOCATE, rec, fds, NULL, 0, 0);
out:
    glb_unlock(c);
    return st;
}

glbridge_status glbridge_create(glbridge_client *c, int memory_fd, const glbridge_allocation *a,
                                uint32_t sync_count, const uint32_t *kinds, const int *sync_fds,
                                const void *data, uint32_t data_len, uint32_t *kmt)
{
    int fds[1 + GLBRIDGE_MAX_SYNC_OBJECTS];
    glbridge_status st;
    glb_reply r;
    unsigned char *p;
    uint32_t i;

    if (kmt)
        *kmt = 0;
    if (!c || !a || !kmt || memory_fd < 0 || sync_count > GLBRIDGE_MAX_SYNC_OBJECTS ||
        (sync_count && (!kinds || !sync_fds)) || (data_len && !data))
        return GLBRIDGE_E_ARGUMENT;
    for (i = 0; i < sync_count; i++)
        if (sync_fds[i] < 0)
            return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    if (data_len > GLBRIDGE_MAX_PRIVATE_DATA) {
        st = glb_fail(c, GLBRIDGE_E_TOO_LARGE, "private data of %u bytes", (unsigned)data_len);
        goto out;
    }
    p = glb_payload(c);
    glb_put32(p + 0, 0);
    glb_put32(p + 4, sync_count);
    glb_put32(p + 8, data_len);
    glb_put32(p + 12, 0);
    glb_put_allocation(p + 16, a);
    fds[0] = memory_fd;
    for (i = 0; i < sync_count; i++) {
        glb_put32(p + 128 + 4 * i, kinds[i]);
        fds[1 + i] = sync_fds[i];
    }
    if (data_len)
        memcpy(p + 128 + 4 * sync_count, data, data_len);
    st = glb_call(c, GLB_CREATE, 128 + 4 * sync_count + data_len, fds, 1 + sync_count, 0, &r);
    if (st == GLBRIDGE_OK) {
        if (r.len != 8)
            st = glb_protocol(c, &r, "CREATE reply is not 8 bytes");
        else
            *kmt = glb_get32(r.payload);
        if (st == GLBRIDGE_OK)
            glb_track_create(c, *kmt, a, sync_count, kinds, memory_fd, sync_fds, data, data_len);
    }
out:
    glb_unlock(c);
    return st;
}

glbridge_status glbridge_share(glbridge_client *c, uint32_t handle, uint32_t access,
                               const char *name, uint32_t *nt, uint32_t *granted)
{
    glbridge_status st;
    glb_reply r;
    unsigned char *p;
    size_t nl = 0;

    if (nt)
        *nt = 0;
    if (granted)
        *granted = 0;
    if (!c || !nt)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    if (name && (st = glb_check_name(c, name, &nl)) != GLBRIDGE_OK)
        goto out;
    p = glb_payload(c);
    glb_put32(p + 0, handle);
    glb_put32(p + 4, access);
    glb_put32(p + 8, (uint32_t)nl);
    glb_put32(p + 12, 0);
    if (nl)
        memcpy(p + 16, name, nl);
    st = glb_call(c, GLB_SHARE, 16 + (uint32_t)nl, NULL, 0, 0, &r);
    if (st == GLBRIDGE_OK) {
        if (r.len != 8) {
            st = glb_protocol(c, &r, "SHARE reply is not 8 bytes");
        } else {
            *nt = glb_get32(r.payload);
            if (granted)
                *granted = glb_get32(r.payload + 4);
            glb_track_share(c, handle, glb_get32(r.payload + 4), *nt, name, nl);
        }
    }
out:
    glb_unlock(c);
    return st;
}

/* handle_request sends a request of a handle and a reserved word. */
static glbridge_status handle_request(glbridge_client *c, uint16_t type, uint32_t handle,
                                      unsigned max_fds, glb_reply *r)
{
    unsigned char *p = glb_payload(c);
    glb_put32(p + 0, handle);
    glb_put32(p + 4, 0);
    return glb_call(c, type, 8, NULL, 0, max_fds, r);
}

glbridge_status glbridge_open_kmt(glbridge_client *c, uint32_t kmt, glbridge_record *rec,
                                  glbridge_fds *fds)
{
    glbridge_status st;
    glb_reply r;

    if (rec)
        memset(rec, 0, sizeof *rec);
    if (fds)
        fds_reset(fds);
    if (!c || !rec || !fds)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    st = handle_request(c, GLB_OPEN_KMT, kmt, 1 + GLBRIDGE_MAX_SYNC_OBJECTS, &r);
    if (st == GLBRIDGE_OK)
        st = record_reply(c, &r, 1, rec, fds);
    if (st == GLBRIDGE_OK)
        glb_track_record(c, GLB_OPEN_KMT, rec, fds, NULL, 0, 0);
    glb_unlock(c);
    return st;
}

glbridge_status glbridge_open_name(glbridge_client *c, const char *name, uint32_t access,
                                   glbridge_record *rec, glbridge_fds *fds)
{
    glbridge_status st;
    glb_reply r;
    unsigned char *p;
    size_t nl = 0;

    if (rec)
        memset(rec, 0, sizeof *rec);
    if (fds)
        fds_reset(fds);
    if (!c || !name || !rec || !fds)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    if ((st = glb_check_name(c, name, &nl)) != GLBRIDGE_OK)
        goto out;
    p = glb_payload(c);
    glb_put32(p + 0, access);
    glb_put32(p + 4, (uint32_t)nl);
    memcpy(p + 8, name, nl);
    st = glb_call(c, GLB_OPEN_NAME, 8 + (uint32_t)nl, NULL, 0, 1 + GLBRIDGE_MAX_SYNC_OBJECTS, &r);
    if (st == GLBRIDGE_OK)
        st = record_reply(c, &r, 1, rec, fds);
    if (st == GLBRIDGE_OK)
        glb_track_record(c, GLB_OPEN_NAME, rec, fds, name, nl, rec->access);
out:
    glb_unlock(c);
    return st;
}

glbridge_status glbridge_query(glbridge_client *c, uint32_t handle, glbridge_record *rec)
{
    glbridge_status st;
    glb_reply r;

    if (rec)
        memset(rec, 0, sizeof *rec);
    if (!c || !rec)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    st = handle_request(c, GLB_QUERY, handle, 0, &r);
    if (st == GLBRIDGE_OK)
        st = record_reply(c, &r, 0, rec, NULL);
    glb_unlock(c);
    return st;
}

static glbridge_status empty_reply(glbridge_client *c, glb_reply *r, const char *what)
{
    if (r->len != 0)
        return glb_protocol(c, r, what);
    return GLBRIDGE_OK;
}

glbridge_status glbridge_update_data(glbridge_client *c, uint32_t handle, const void *data,
                                     uint32_t data_len)
{
    glbridge_status st;
    glb_reply r;
    unsigned char *p;

    if (!c || (data_len && !data))
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    if (data_len > GLBRIDGE_MAX_PRIVATE_DATA) {
        st = glb_fail(c, GLBRIDGE_E_TOO_LARGE, "private data of %u bytes", (unsigned)data_len);
        goto out;
    }
    p = glb_payload(c);
    glb_put32(p + 0, handle);
    glb_put32(p + 4, data_len);
    if (data_len)
        memcpy(p + 8, data, data_len);
    st = glb_call(c, GLB_UPDATE_DATA, 8 + data_len, NULL, 0, 0, &r);
    if (st == GLBRIDGE_OK)
        st = empty_reply(c, &r, "UPDATE_DATA reply not empty");
    if (st == GLBRIDGE_OK)
        glb_track_update(c, handle, data, data_len);
out:
    glb_unlock(c);
    return st;
}

glbridge_status glbridge_close(glbridge_client *c, uint32_t handle)
{
    glbridge_status st;
    glb_reply r;

    if (!c)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    st = handle_request(c, GLB_CLOSE, handle, 0, &r);
    if (st == GLBRIDGE_OK)
        st = empty_reply(c, &r, "CLOSE reply not empty");
    if (st == GLBRIDGE_OK)
        glb_track_close(c, handle);
    glb_unlock(c);
    return st;
}

glbridge_status glbridge_attach_sync(glbridge_client *c, uint32_t handle, uint32_t kind, int fd,
                                     uint32_t *sync_count)
{
    glbridge_status st;
    glb_reply r;
    unsigned char *p;

    if (sync_count)
        *sync_count = 0;
    if (!c || fd < 0)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    p = glb_payload(c);
    glb_put32(p + 0, handle);
    glb_put32(p + 4, kind);
    st = glb_call(c, GLB_ATTACH_SYNC, 8, &fd, 1, 0, &r);
    if (st == GLBRIDGE_OK) {
        if (r.len != 8)
            st = glb_protocol(c, &r, "ATTACH_SYNC reply is not 8 bytes");
        else if (sync_count)
            *sync_count = glb_get32(r.payload);
        if (st == GLBRIDGE_OK)
            glb_track_attach(c, handle, kind, fd);
    }
    glb_unlock(c);
    return st;
}

glbridge_status glbridge_acquire_sync(glbridge_client *c, uint32_t handle, uint64_t key,
                                      uint32_t timeout_ms, uint64_t *value, int *abandoned)
{
    glbridge_status st;
    glb_reply r;
    unsigned char *p;

    if (value)
        *value = 0;
    if (abandoned)
        *abandoned = 0;
    if (!c)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    p = glb_payload(c);
    glb_put32(p + 0, handle);
    glb_put32(p + 4, timeout_ms);
    glb_put64(p + 8, key);
    st = glb_call(c, GLB_ACQUIRE_SYNC, 16, NULL, 0, 0, &r);
    if (st == GLBRIDGE_OK) {
        uint64_t v;
        uint32_t fl, events;
        if (glb_parse_acquire_reply(r.payload, r.len, &v, &fl, &events) != 0) {
            st = glb_protocol(c, &r, "ACQUIRE_SYNC reply is not 16 bytes");
        } else {
            if (value)
                *value = v;
            if (abandoned)
                *abandoned = (fl & 1) != 0;
            glb_track_acquire(c, handle, key, v, events, (fl & 1) != 0);
        }
    }
    glb_unlock(c);
    return st;
}

glbridge_status glbridge_release_sync(glbridge_client *c, uint32_t handle, uint64_t key,
                                      uint64_t value)
{
    glbridge_status st;
    glb_reply r;
    unsigned char *p;

    if (!c)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    p = glb_payload(c);
    glb_put32(p + 0, handle);
    glb_put32(p + 4, 0);
    glb_put64(p + 8, key);
    glb_put64(p + 16, value);
    st = glb_call(c, GLB_RELEASE_SYNC, 24, NULL, 0, 0, &r);
    if (st == GLBRIDGE_OK)
        st = empty_reply(c, &r, "RELEASE_SYNC reply not empty");
    if (st == GLBRIDGE_OK)
        glb_track_release(c, handle, key, value);
    glb_unlock(c);
    return st;
}

/* ---- NT handles as Windows handles: DUPLICATE, OPEN_DUPLICATE, QUERY_OBJECT ---- */

glbridge_status glbridge_duplicate(glbridge_client *c, uint32_t handle, uint32_t access, uint32_t options,
                                   int32_t target_pid, uint64_t *token, uint32_t *granted, uint32_t *mask)
{
    glbridge_status st;
    glb_reply r;
    unsigned char *p;

    if (token)
        *token = 0;
    if (granted)
        *granted = 0;
    if (mask)
        *mask = 0;
    if (!c || !token)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    p = glb_payload(c);
    glb_put32(p + 0, handle);
    glb_put32(p + 4, access);
    glb_put32(p + 8, options);
    glb_put32(p + 12, (uint32_t)target_pid);
    st = glb_call(c, GLB_DUPLICATE, 16, NULL, 0, 0, &r);
    if (st == GLBRIDGE_OK) {
        uint64_t t;
        uint32_t g, m;
        if (glb_parse_duplicate_reply(r.payload, r.len, &t, &g, &m) != 0) {
            st = glb_protocol(c, &r, "bad DUPLICATE reply");
        } else {
            *token = t;
            if (granted)
                *granted = g;
            if (mask)
                *mask = m;
            if (options & GLBRIDGE_DUPLICATE_CLOSE_SOURCE)
                glb_track_close(c, handle);
        }
    }
    glb_unlock(c);
    return st;
}

glbridge_status glbridge_open_duplicate(glbridge_client *c, uint64_t token, glbridge_record *rec,
                                        glbridge_fds *fds)
{
    char path[GLBRIDGE_MAX_OBJECT_PATH + 1];
    glbridge_status st;
    glb_reply r;
    uint32_t mask = 0;

    if (rec)
        memset(rec, 0, sizeof *rec);
    if (fds)
        fds_reset(fds);
    if (!c || !rec || !fds)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    glb_put64(glb_payload(c), token);
    st = glb_call(c, GLB_OPEN_DUPLICATE, 8, NULL, 0, 1 + GLBRIDGE_MAX_SYNC_OBJECTS, &r);
    if (st == GLBRIDGE_OK)
        st = record_fds(c, &r, glb_parse_open_duplicate_reply(r.payload, r.len, &mask, path, rec), 1, rec, fds);
    if (st == GLBRIDGE_OK)
        glb_track_record(c, GLB_OPEN_DUPLICATE, rec, fds, path, strlen(path), mask);
    glb_unlock(c);
    return st;
}

glbridge_status glbridge_query_object(glbridge_client *c, uint32_t handle, glbridge_object_info *info)
{
    glbridge_status st;
    glb_reply r;

    if (info)
        memset(info, 0, sizeof *info);
    if (!c || !info)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    st = handle_request(c, GLB_QUERY_OBJECT, handle, 0, &r);
    if (st == GLBRIDGE_OK && glb_parse_object_info(r.payload, r.len, info) != 0)
        st = glb_protocol(c, &r, "bad QUERY_OBJECT reply");
    glb_unlock(c);
    return st;
}

glbridge_status glbridge_set_session(glbridge_client *c, uint32_t session)
{
    glbridge_status st;
    glb_reply r;
    unsigned char *p;

    if (!c)
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    if (session > GLBRIDGE_MAX_SESSION) {
        st = glb_fail(c, GLBRIDGE_E_INVALID, "session %u is above %u", (unsigned)session, (unsigned)GLBRIDGE_MAX_SESSION);
        goto out;
    }
    p = glb_payload(c);
    glb_put32(p + 0, session);
    glb_put32(p + 4, 0);
    st = glb_call(c, GLB_SET_SESSION, 8, NULL, 0, 0, &r);
    if (st == GLBRIDGE_OK)
        st = empty_reply(c, &r, "SET_SESSION reply not empty");
    if (st == GLBRIDGE_OK) {
        /* A new connection is set to it again before its restores. */
        c->has_session = 1;
        c->session = session;
    }
out:
    glb_unlock(c);
    return st;
}

/* ---- LIST ---- */

void glbridge_list_free(glbridge_list_entry *e, size_t count)
{
    size_t i, k;
    if (!e)
        return;
    for (i = 0; i < count; i++) {
        for (k = 0; k < GLBRIDGE_MAX_NAMES; k++)
            free(e[i].names[k]);
        free(e[i].holders);
    }
    free(e);
}

int glb_parse_names(const unsigned char *p, uint32_t avail, uint32_t *off, uint32_t nc, char **names,
                    uint32_t *name_count)
{
    uint32_t i;

    for (i = 0; i < nc; i++) {
        uint32_t l;
        if (avail - *off < 2)
            return 0;
        l = glb_get16(p + *off);
        *off += 2;
        if (l > GLBRIDGE_MAX_NAME_LEN || avail - *off < l || memchr(p + *off, 0, l))
            return 0;
        names[i] = malloc(l + 1);
        if (!names[i])
            return -1;
        memcpy(names[i], p + *off, l);
        names[i][l] = '\0';
        *name_count = i + 1;
        *off += l;
    }
    return 1;
}

/* parse_entry parses one entry at p (avail bytes left); returns its
   length, 0 when malformed, -1 out of memory (the entry is then partly
   filled: the caller frees it). */
static long parse_entry(const unsigned char *p, uint32_t avail, uint32_t flags,
                        glbridge_list_entry *e)
{
    uint32_t off = 136, i, nc, hc, dn;
    int parsed;
    if (avail < 136)
        return 0;
    e->kmt = glb_get32(p + 0);
    e->creator_pid = (int32_t)glb_get32(p + 4);
    e->refs = glb_get32(p + 8);
    nc = glb_get16(p + 12);
    hc = glb_get16(p + 14);
    e->data_len = glb_get32(p + 16);
    e->flags = glb_get32(p + 20);
    glb_parse_allocation(p + 24, &e->alloc);
    if (nc > GLBRIDGE_MAX_NAMES)
        return 0;
    parsed = glb_parse_names(p, avail, &off, nc, e->names, &e->name_count);
    if (parsed != 1)
        return parsed; /* 0 malformed, -1 out of memory */
    if ((avail - off) / 16 < hc)
        return 0;
    if (hc) {
        e->holders = calloc(hc, sizeof *e->holders);
        if (!e->holders)
            return -1;
        for (i = 0; i < hc; i++) {
            const unsigned char *h = p + off + 16 * i;
            e->holders[i].pid = glb_get32(h);
            e->holders[i].uid = glb_get32(h + 4);
            e->holders[i].conn_id = glb_get32(h + 8);
            e->holders[i].refs = glb_get32(h + 12);
        }
        e->holder_count = hc;
    }
    off += 16 * hc;
    /* Origin section (version 2). */
    if (avail - off < 8)
        return 0;
    e->origin_flags = glb_get32(p + off);
    dn = glb_get32(p + off + 4);
    off += 8;
    if (dn > 255 || avail - off < dn || memchr(p + off, 0, dn))
        return 0;
    memcpy(e->device_name, p + off, dn);
    e->device_name[dn] = '\0';
    off += dn;
    if (flags & GLBRIDGE_LIST_SYNC_STATE) {
        glbridge_sync_state *s = &e->sync;
        if (avail - off < 40)
            return 0;
        s->sync_count = glb_get32(p + off);
        if (s->sync_count > GLBRIDGE_MAX_SYNC_OBJECTS || avail - off - 40 < 4 * s->sync_count)
            return 0;
        s->mutex_state = glb_get32(p + off + 4);
        s->holder_pid = (int32_t)glb_get32(p + off + 8);
        s->holder_conn = glb_get32(p + off + 12);
        s->waiters = glb_get32(p + off + 16);
        s->last_key = glb_get64(p + off + 24);
        s->last_value = glb_get64(p + off + 32);
        for (i = 0; i < s->sync_count; i++)
            s->sync_kinds[i] = glb_get32(p + off + 40 + 4 * i);
        off += 40 + 4 * s->sync_count;
        e->has_sync = 1;
    }
    return (long)off;
}

int glb_parse_list_page(const unsigned char *p, uint32_t len, uint32_t flags,
                        glbridge_list_entry **all, size_t *n, size_t *cap, uint32_t *next)
{
    uint32_t cnt, off, i;

    *next = 0;
    if (len < 8)
        return -1;
    *next = glb_get32(p);
    cnt = glb_get32(p + 4);
    if (cnt > len / 144)
        return -1;
    if (*n + cnt > *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        glbridge_list_entry *na;
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
        l = parse_entry(p + off, len - off, flags, &(*all)[*n]);
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

/* A listing's state, for glb_list_pages' parser. */
struct list_pages {
    glbridge_list_entry *all;
    size_t n, cap;
    uint32_t flags;
};

static int parse_list_page(void *ctx, const unsigned char *p, uint32_t len, uint32_t *next)
{
    struct list_pages *l = ctx;
    return glb_parse_list_page(p, len, l->flags, &l->all, &l->n, &l->cap, next);
}

glbridge_status glb_list_pages(glbridge_client *c, uint16_t type, uint32_t flags, glb_page_parser parse, void *ctx,
                               const char *what)
{
    uint32_t cursor = 0;
    glbridge_status st;
    unsigned pages = 0;
    char msg[96];

    if ((st = glb_lock(c)) != GLBRIDGE_OK)
        return st;
    for (;;) {
        glb_reply r;
        unsigned char *p = glb_payload(c);
        uint32_t next;
        int e;

        glb_put32(p + 0, cursor);
        glb_put32(p + 4, flags);
        st = glb_call(c, type, 8, NULL, 0, 0, &r);
        if (st != GLBRIDGE_OK)
            break;
        e = parse(ctx, r.payload, r.len, &next);
        if (e == -2) {
            st = glb_fail(c, GLBRIDGE_E_NO_MEMORY, "out of memory");
            break;
        }
        if (e != 0) {
            snprintf(msg, sizeof msg, "bad %s reply", what);
            st = glb_protocol(c, &r, msg);
            break;
        }
        if (next == 0)
            break;
        if (next <= cursor || ++pages > 1000000u) {
            snprintf(msg, sizeof msg, "%s cursor does not advance", what);
            st = glb_protocol(c, &r, msg);
            break;
        }
        cursor = next;
    }
    glb_unlock(c);
    return st;
}

glbridge_status glbridge_list(glbridge_client *c, uint32_t flags, glbridge_list_entry **entries,
                              size_t *count)
{
    struct list_pages l = {NULL, 0, 0, flags};
    glbridge_status st;

    if (entries)
        *entries = NULL;
    if (count)
        *count = 0;
    if (!c || !entries || !count || (flags & ~GLBRIDGE_LIST_SYNC_STATE))
        return GLBRIDGE_E_ARGUMENT;
    if ((st = glb_list_pages(c, GLB_LIST, flags, parse_list_page, &l, "LIST")) != GLBRIDGE_OK) {
        glbridge_list_free(l.all, l.n);
        return st;
    }
    *entries = l.n ? l.all : NULL;
    if (!l.n)
        free(l.all);
    *count = l.n;
    return GLBRIDGE_OK;
}
