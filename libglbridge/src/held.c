/* What a reconnecting client holds, and the RESTOREs that bring it back
   (docs/protocol.md, "13 RESTORE": "What a client keeps to restore";
   "23 RESTORE_FENCE", "26 RESTORE_KEYED_MUTEX"). */
#define _GNU_SOURCE
#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the handle map: open addressing, linear probing ---- */

#define SLOT_EMPTY 0u
#define SLOT_DELETED 1u

static size_t slot_hash(uint32_t h, size_t mask)
{
    uint32_t x = h * 0x9E3779B1u;
    return (size_t)(x ^ (x >> 15)) & mask;
}

static glb_slot *map_lookup(glb_table *t, uint32_t handle)
{
    size_t i, mask;
    if (t->nslots == 0 || handle <= SLOT_DELETED)
        return NULL;
    mask = t->nslots - 1;
    for (i = slot_hash(handle, mask);; i = (i + 1) & mask) {
        glb_slot *s = &t->slots[i];
        if (s->handle == handle)
            return s;
        if (s->handle == SLOT_EMPTY)
            return NULL;
    }
}

static int map_grow(glb_table *t)
{
    size_t n = t->nslots ? t->nslots : 64, i;
    glb_slot *ns;
    /* Keep at most half the slots in use (deleted ones count). */
    while ((t->used + 1) * 2 > n)
        n *= 2;
    ns = calloc(n, sizeof *ns);
    if (!ns)
        return -1;
    for (i = 0; i < t->nslots; i++) {
        glb_slot *s = &t->slots[i];
        if (s->handle > SLOT_DELETED) {
            size_t k = slot_hash(s->handle, n - 1);
            while (ns[k].handle != SLOT_EMPTY)
                k = (k + 1) & (n - 1);
            ns[k] = *s;
        }
    }
    free(t->slots);
    t->slots = ns;
    t->nslots = n;
    t->used -= t->deleted;
    t->deleted = 0;
    return 0;
}

static int map_put(glb_table *t, uint32_t handle, glb_held *hr)
{
    size_t i, mask;
    glb_slot *s = map_lookup(t, handle);
    if (s) {
        s->hr = hr;
        return 0;
    }
    if ((t->used + 1) * 2 > t->nslots && map_grow(t) != 0)
        return -1;
    mask = t->nslots - 1;
    for (i = slot_hash(handle, mask); t->slots[i].handle > SLOT_DELETED; i = (i + 1) & mask)
        ;
    if (t->slots[i].handle == SLOT_EMPTY)
        t->used++;
    else
        t->deleted--;
    t->slots[i].handle = handle;
    t->slots[i].hr = hr;
    return 0;
}

static void map_del(glb_table *t, uint32_t handle)
{
    glb_slot *s = map_lookup(t, handle);
    if (s) {
        s->handle = SLOT_DELETED;
        s->hr = NULL;
        t->deleted++;
    }
}

/* ---- resources ---- */

glb_held *glb_held_find(glb_table *t, uint32_t handle)
{
    glb_slot *s = map_lookup(t, handle);
    return s ? s->hr : NULL;
}

static void close_kept(glb_table *t, glb_held *hr)
{
    uint32_t i;
    for (i = 0; i < hr->nfds; i++)
        if (hr->fds[i] >= 0) {
            close(hr->fds[i]);
            t->kept_fds--;
        }
    hr->nfds = 0;
}

static void free_held(glb_held *hr)
{
    uint32_t i;
    for (i = 0; i < hr->name_count; i++)
        free(hr->names[i].name);
    free(hr->nt);
    free(hr->data);
    free(hr);
}

void glb_held_drop(glb_table *t, glb_held *hr)
{
    size_t i;
    map_del(t, hr->kmt);
    for (i = 0; i < hr->nt_count; i++)
        map_del(t, hr->nt[i].handle);
    close_kept(t, hr);
    /* Swap the last resource into hr's place. */
    t->res[hr->index] = t->res[t->count - 1];
    t->res[hr->index]->index = hr->index;
    t->count--;
    free_held(hr);
}

void glb_table_free(glb_table *t)
{
    while (t->count > 0)
        glb_held_drop(t, t->res[t->count - 1]);
    free(t->res);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* keep_fd dups fd for hr (close-on-exec); a failure makes hr
   unrestorable. */
static void keep_fd(glb_table *t, glb_held *hr, int fd)
{
    int d = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (d < 0 || hr->nfds >= 1 + GLBRIDGE_MAX_SYNC_OBJECTS) {
        if (d >= 0)
            close(d);
        hr->fds_ok = 0;
        return;
    }
    hr->fds[hr->nfds++] = d;
    t->kept_fds++;
}

static int set_data(glb_held *hr, const void *data, uint32_t len)
{
    unsigned char *d = NULL;
    if (len > 0) {
        d = malloc(len);
        if (!d)
            return -1;
        memcpy(d, data, len);
    }
    free(hr->data);
    hr->data = d;
    hr->data_len = len;
    return 0;
}

/* held_add returns the resource of kmt, made the first time from the
   record's facts with dups of its fds (memory, then sync_count); NULL
   when out of memory (the resource then goes untracked). */
static glb_held *held_add(glbridge_client *c, uint32_t kmt, const glbridge_allocation *a,
                          uint32_t sync_count, const uint32_t *kinds, int memory_fd,
                          const int *sync_fds, const void *data, uint32_t data_len, int service)
{
    glb_table *t = &c->held;
    glb_held *hr = glb_held_find(t, kmt);
    uint32_t i;

    if (hr)
        return hr;
    if (sync_count > GLBRIDGE_MAX_SYNC_OBJECTS)
        return NULL;
    if (t->count == t->cap) {
        size_t ncap = t->cap ? 2 * t->cap : 16;
        glb_held **nr = realloc(t->res, ncap * sizeof *nr);
        if (!nr)
            goto oom;
        t->res = nr;
        t->cap = ncap;
    }
    hr = calloc(1, sizeof *hr);
    if (!hr)
        goto oom;
    if (set_data(hr, data, data_len) != 0 || map_put(t, kmt, hr) != 0) {
        free(hr->data);
        free(hr);
        goto oom;
    }
    hr->kmt = kmt;
    hr->alloc = *a;
    hr->sync_count = sync_count;
    for (i = 0; i < sync_count; i++)
        hr->kinds[i] = kinds[i];
    hr->service = service;
    hr->fds_ok = 1;
    keep_fd(t, hr, memory_fd);
    for (i = 0; i < sync_count; i++)
        keep_fd(t, hr, sync_fds[i]);
    hr->index = t->count;
    t->res[t->count++] = hr;
    return hr;
oom:
    c->untracked++;
    return NULL;
}

/* add_nt adds (or updates) the NT handle nt with the access its claim
   restores and its object's name (0, or i + 1 for hr->names[i]). */
static int add_nt(glb_table *t, glb_held *hr, uint32_t nt, uint32_t access, uint32_t name)
{
    size_t i;
    for (i = 0; i < hr->nt_count; i++)
        if (hr->nt[i].handle == nt) {
            hr->nt[i].access = access;
            hr->nt[i].name = name;
            return 0;
        }
    if (hr->nt_count == hr->nt_cap) {
        size_t ncap = hr->nt_cap ? 2 * hr->nt_cap : 4;
        glb_nt_claim *n = realloc(hr->nt, ncap * sizeof *n);
        if (!n)
            return -1;
        hr->nt = n;
        hr->nt_cap = ncap;
    }
    if (map_put(t, nt, hr) != 0)
        return -1;
    hr->nt[hr->nt_count].handle = nt;
    hr->nt[hr->nt_count].access = access;
    hr->nt[hr->nt_count].name = name;
    hr->nt_count++;
    return 0;
}

/* add_name keeps name (len bytes) with access, or adds access to it:
   i + 1 for hr->names[i], 0 when it is not kept. */
static uint32_t add_name(glb_held *hr, const char *name, size_t len, uint32_t access)
{
    uint32_t i;
    glb_name_claim *n;
    for (i = 0; i < hr->name_count; i++) {
        n = &hr->names[i];
        if (n->len == len && memcmp(n->name, name, len) == 0) {
            n->access |= access;
            return i + 1;
        }
    }
    /* A resource has at most 8 names at once, so this connection knows
       at most 8; a name it cannot keep is not restored. */
    if (hr->name_count >= GLBRIDGE_MAX_NAMES || len == 0 || len > GLBRIDGE_MAX_NAME_LEN)
        return 0;
    n = &hr->names[hr->name_count];
    n->name = malloc(len + 1);
    if (!n->name)
        return 0;
    memcpy(n->name, name, len);
    n->name[len] = '\0';
    n->len = (uint32_t)len;
    n->access = access;
    return ++hr->name_count;
}

/* del_name forgets hr->names[i]; the NT handles to its object become
   unnamed, and those to later names follow them down. */
static void del_name(glb_held *hr, uint32_t i)
{
    size_t k;
    free(hr->names[i].name);
    memmove(&hr->names[i], &hr->names[i + 1], (hr->name_count - i - 1) * sizeof hr->names[0]);
    hr->name_count--;
    memset(&hr->names[hr->name_count], 0, sizeof hr->names[0]);
    for (k = 0; k < hr->nt_count; k++) {
        if (hr->nt[k].name == i + 1)
            hr->nt[k].name = 0;
        else if (hr->nt[k].name > i + 1)
            hr->nt[k].name--;
    }
}

/* ---- tracking successful replies ---- */

void glb_track_create(glbridge_client *c, uint32_t kmt, const glbridge_allocation *a,
                      uint32_t sync_count, const uint32_t *kinds, int memory_fd,
                      const int *sync_fds, const void *data, uint32_t data_len)
{
    glb_held *hr;
    if (!c->reconnect)
        return;
    hr = held_add(c, kmt, a, sync_count, kinds, memory_fd, sync_fds, data, data_len, 0);
    if (hr && !hr->fence && !hr->keyed_mutex) {
        hr->creator = 1;
        hr->kmt_refs++;
    }
}

void glb_track_record(glbridge_client *c, uint16_t type, const glbridge_record *rec,
                      const glbridge_fds *fds, const char *name, size_t name_len, uint32_t nt_access)
{
    glb_held *hr;
    if (!c->reconnect)
        return;
    hr = held_add(c, rec->kmt, &rec->alloc, rec->sync_count, rec->sync_kinds, fds->memory, fds->sync,
                  rec->data, rec->data_len, (rec->flags & GLBRIDGE_RECORD_SERVICE_ALLOCATED) != 0);
    if (!hr || hr->fence || hr->keyed_mutex) /* a resource's reply about another kind: the broker errs */
        return;
    if (!hr->creator && type != GLB_ALLOCATE) {
        uint32_t i;
        /* An opener's newest view: the creator's latest data, and the
           semaphores attached since this connection's first open. */
        if (rec->data_len != hr->data_len || (rec->data_len && memcmp(rec->data, hr->data, rec->data_len)))
            set_data(hr, rec->data, rec->data_len);
        if (rec->sync_count > hr->sync_count && hr->fds_ok && hr->nfds == 1 + hr->sync_count) {
            for (i = 0; i < hr->sync_count; i++)
                if (rec->sync_kinds[i] != hr->kinds[i])
                    break;
            if (i == hr->sync_count)
                for (; i < rec->sync_count; i++) {
                    hr->kinds[i] = rec->sync_kinds[i];
                    hr->sync_count++;
                    keep_fd(&c->held, hr, fds->sync[i]);
                }
        }
    }
    switch (type) {
    case GLB_ALLOCATE:
        hr->creator = 1;
        hr->kmt_refs++;
        break;
    case GLB_OPEN_KMT:
        hr->kmt_refs++;
        break;
    case GLB_OPEN_NAME:
    case GLB_OPEN_DUPLICATE:
        if (add_nt(&c->held, hr, rec->handle, nt_access, name_len ? add_name(hr, name, name_len, rec->access) : 0) != 0)
            c->untracked++;
        break;
    }
}

void glb_track_share(glbridge_client *c, uint32_t handle, uint32_t access, uint32_t nt,
                     const char *name, size_t name_len)
{
    glb_held *hr;
    if (!c->reconnect || !(hr = glb_held_find(&c->held, handle)) || hr->keyed_mutex) /* it has no NT handles */
        return;
    if (add_nt(&c->held, hr, nt, access, name && name_len ? add_name(hr, name, name_len, access) : 0) != 0)
        c->untracked++;
}

static int nt_index(const glb_held *hr, uint32_t h, size_t *i)
{
    for (*i = 0; *i < hr->nt_count; (*i)++)
        if (hr->nt[*i].handle == h)
            return 1;
    return 0;
}

void glb_track_close(glbridge_client *c, uint32_t handle)
{
    glb_held *hr;
    size_t i, k;
    int last = 1;
    if (!c->reconnect || !(hr = glb_held_find(&c->held, handle)))
        return;
    if (nt_index(hr, handle, &i)) {
        uint32_t name = hr->nt[i].name;
        hr->nt[i] = hr->nt[--hr->nt_count];
        map_del(&c->held, handle);
        /* A name goes with the last handle to its object: one this
           connection holds no handle of any more is not its to restore. */
        for (k = 0; name && k < hr->nt_count; k++)
            if (hr->nt[k].name == name)
                break;
        if (name && k == hr->nt_count && name <= hr->name_count)
            del_name(hr, name - 1);
    } else if (hr->kmt_refs > 0 && --hr->kmt_refs > 0) {
        last = 0;
    }
    /* Closing the last reference through the holding handle abandons the
       mutex: an event, after which this connection neither holds it nor
       released it last, and knows it abandoned for good. */
    if (last && hr->mutex.held && hr->mutex.via == handle) {
        uint32_t ev = hr->mutex.events + 1;
        memset(&hr->mutex, 0, sizeof hr->mutex);
        hr->mutex.events = ev;
        hr->mutex.abandoned = 1;
    }
    if (hr->kmt_refs == 0 && hr->nt_count == 0)
        glb_held_drop(&c->held, hr);
}

void glb_track_update(glbridge_client *c, uint32_t handle, const void *data, uint32_t len)
{
    glb_held *hr;
    if (!c->reconnect || !(hr = glb_held_find(&c->held, handle)) || hr->fence || hr->keyed_mutex)
        return;
    if (set_data(hr, data, len) != 0)
        c->untracked++;
}

void glb_track_attach(glbridge_client *c, uint32_t handle, uint32_t kind, int fd)
{
    glb_held *hr;
    if (!c->reconnect || !(hr = glb_held_find(&c->held, handle)) || hr->fence || hr->keyed_mutex)
        return;
    if (hr->sync_count >= GLBRIDGE_MAX_SYNC_OBJECTS)
        return;
    hr->kinds[hr->sync_count++] = kind;
    if (hr->fds_ok && hr->nfds == hr->sync_count)
        keep_fd(&c->held, hr, fd);
    else
        hr->fds_ok = 0;
}

void glb_track_acquire(glbridge_client *c, uint32_t handle, uint64_t key, uint64_t value,
                       uint32_t events, int abandoned)
{
    glb_held *hr;
    if (!c->reconnect || !(hr = glb_held_find(&c->held, handle)) || hr->fence)
        return;
    memset(&hr->mutex, 0, sizeof hr->mutex);
    hr->mutex.held = 1;
    hr->mutex.via = handle;
    hr->mutex.key = key;
    hr->mutex.value = value;
    hr->mutex.events = events;
    hr->mutex.abandoned = abandoned;
}

void glb_track_release(glbridge_client *c, uint32_t handle, uint64_t key, uint64_t value)
{
    glb_held *hr;
    uint32_t ev;
    int abandoned;
    if (!c->reconnect || !(hr = glb_held_find(&c->held, handle)) || !hr->mutex.held || hr->fence)
        return;
    ev = hr->mutex.events + 1;
    abandoned = hr->mutex.abandoned; /* for good */
    memset(&hr->mutex, 0, sizeof hr->mutex);
    hr->mutex.released = 1;
    hr->mutex.key = key;
    hr->mutex.value = value;
    hr->mutex.events = ev;
    hr->mutex.abandoned = abandoned;
}

/* ---- fences and keyed-mutex objects ---- */

/* new_held returns a new, empty entry of kmt in the table (no fds yet,
   fds_ok), or NULL when out of memory (counted as untracked). */
static glb_held *new_held(glbridge_client *c, uint32_t kmt)
{
    glb_table *t = &c->held;
    glb_held *hr;

    if (t->count == t->cap) {
        size_t ncap = t->cap ? 2 * t->cap : 16;
        glb_held **nr = realloc(t->res, ncap * sizeof *nr);
        if (!nr)
            goto oom;
        t->res = nr;
        t->cap = ncap;
    }
    hr = calloc(1, sizeof *hr);
    if (!hr)
        goto oom;
    if (map_put(t, kmt, hr) != 0) {
        free(hr);
        goto oom;
    }
    hr->kmt = kmt;
    hr->fds_ok = 1;
    hr->index = t->count;
    t->res[t->count++] = hr;
    return hr;
oom:
    c->untracked++;
    return NULL;
}

/* fence_add returns the fence of kmt, made the first time with a dup of
   sem_fd when it has one (sync_kind GLBRIDGE_SYNC_TIMELINE); NULL when
   out of memory, or when kmt is another kind's (the broker errs). */
static glb_held *fence_add(glbridge_client *c, uint32_t kmt, uint32_t sync_kind, int sem_fd)
{
    glb_held *hr = glb_held_find(&c->held, kmt);

    if (hr)
        return hr->fence ? hr : NULL;
    if (!(hr = new_held(c, kmt)))
        return NULL;
    hr->fence = 1;
    if (sync_kind == GLBRIDGE_SYNC_TIMELINE) {
        hr->sync_count = 1;
        hr->kinds[0] = GLBRIDGE_SYNC_TIMELINE;
        keep_fd(&c->held, hr, sem_fd);
    }
    return hr;
}

/* note_fence keeps v when it is at least as recent as what hr knows (as
   many signals or more). */
static void note_fence(glb_held *hr, const glbridge_fence_value *v)
{
    if (v->signals >= hr->fence_value.signals)
        hr->fence_value = *v;
}

void glb_track_create_fence(glbridge_client *c, uint32_t kmt, uint64_t initial, int sem_fd,
                            const uint8_t *driver_uuid, const uint8_t *device_uuid)
{
    glbridge_fence_value v;
    glb_held *hr;
    if (!c->reconnect)
        return;
    hr = fence_add(c, kmt, sem_fd >= 0 ? GLBRIDGE_SYNC_TIMELINE : GLBRIDGE_SYNC_NONE, sem_fd);
    if (!hr)
        return;
    memset(&v, 0, sizeof v);
    v.value = initial;
    note_fence(hr, &v);
    hr->creator = 1;
    hr->kmt_refs++;
    if (driver_uuid && device_uuid && hr->sync_count == 1) {
        /* A service fence: a new broker imports its semaphore on this
           device again. */
        hr->service = 1;
        memcpy(hr->alloc.driver_uuid, driver_uuid, 16);
        memcpy(hr->alloc.device_uuid, device_uuid, 16);
    }
}

void glb_track_keyed_mutex(glbridge_client *c, const glbridge_keyed_mutex *m, int creator)
{
    glb_held *hr;
    if (!c->reconnect)
        return;
    hr = glb_held_find(&c->held, m->kmt);
    if (!hr) {
        if (!(hr = new_held(c, m->kmt)))
            return;
        if (set_data(hr, m->data, m->data_len) != 0) {
            glb_held_drop(&c->held, hr);
            c->untracked++;
            return;
        }
        hr->keyed_mutex = 1;
        hr->mutex_of = m->resource;
        hr->mutex_sync = m->sync;
    } else if (!hr->keyed_mutex) {
        return; /* another kind under its handle: the broker errs */
    }
    if (creator)
        hr->creator = 1;
    hr->kmt_refs++;
}

void glb_track_open_fence(glbridge_client *c, const glbridge_fence *f, int sem_fd, const char *name,
                          size_t name_len)
{
    glb_held *hr;
    if (!c->reconnect)
        return;
    hr = fence_add(c, f->kmt, f->sync_kind, sem_fd);
    if (!hr)
        return;
    note_fence(hr, &f->value);
    if (f->handle == f->kmt) {
        hr->kmt_refs++;
        return;
    }
    if (!name) {
        /* By duplicate: the handle is to the source's object. */
        name = f->name;
        name_len = strlen(f->name);
    }
    if (add_nt(&c->held, hr, f->handle, f->mask, name_len ? add_name(hr, name, name_len, f->access) : 0) != 0)
        c->untracked++;
}

void glb_track_fence_value(glbridge_client *c, uint32_t handle, const glbridge_fence_value *v)
{
    glb_held *hr;
    if (c->reconnect && (hr = glb_held_find(&c->held, handle)) != NULL && hr->fence)
        note_fence(hr, v);
}

glbridge_status glb_settle(glbridge_client *c, uint16_t type, uint32_t handle)
{
    glb_held *hr = glb_held_find(&c->held, handle);
    if (!hr)
        return glb_fail(c, GLBRIDGE_E_NOT_FOUND,
                        "handle 0x%x is not held by this client (the broker was away)", (unsigned)handle);
    if (type == GLB_RELEASE_SYNC && !(hr->mutex.held && hr->mutex.via == handle))
        return glb_fail(c, GLBRIDGE_E_ACCESS_DENIED,
                        "the keyed mutex is not held through 0x%x (the broker was away)", (unsigned)handle);
    return GLBRIDGE_OK;
}

/* ---- RESTORE ---- */

int glb_restore_rank(const glb_held *hr) { return hr->keyed_mutex ? 2 : hr->fence ? 1 : 0; }

uint16_t glb_restore_type(const glb_held *hr)
{
    return hr->keyed_mutex ? GLB_RESTORE_KEYED_MUTEX : hr->fence ? GLB_RESTORE_FENCE : GLB_RESTORE;
}

uint32_t glb_restore_chunks(const glb_held *hr)
{
    if (hr->keyed_mutex || hr->nt_count <= GLB_RESTORE_MAX_NT)
        return 1;
    return (uint32_t)((hr->nt_count + GLB_RESTORE_MAX_NT - 1) / GLB_RESTORE_MAX_NT);
}

static int cmp_nt(const void *a, const void *b)
{
    uint32_t x = ((const glb_nt_claim *)a)->handle, y = ((const glb_nt_claim *)b)->handle;
    return x < y ? -1 : x > y;
}

/* put_claims writes nt_n NT claims of hr from first (handle, access,
   name: 12 bytes each) and every name claim at q; returns the end. */
static unsigned char *put_claims(const glb_held *hr, size_t first, size_t nt_n, unsigned char *q)
{
    size_t i;
    for (i = first; i < first + nt_n; i++, q += 12) {
        glb_put32(q, hr->nt[i].handle);
        glb_put32(q + 4, hr->nt[i].access);
        glb_put32(q + 8, hr->nt[i].name);
    }
    for (i = 0; i < hr->name_count; i++) {
        glb_put32(q, hr->names[i].access);
        glb_put32(q + 4, hr->names[i].len);
        memcpy(q + 8, hr->names[i].name, hr->names[i].len);
        q += 8 + hr->names[i].len;
    }
    return q;
}

/* restore_fence_encode is glb_restore_encode for a fence (RESTORE_FENCE). */
static uint32_t restore_fence_encode(const glb_held *hr, size_t first, size_t nt_n, uint32_t chunk,
                                     unsigned char *p, size_t cap)
{
    size_t fixed = GLB_RESTORE_FENCE_FIXED + (hr->service ? 32u : 0u), need = fixed + 12u * nt_n, i;
    uint32_t flags = (hr->creator ? GLB_RESTORE_CREATOR : 0) | (hr->service ? GLB_RESTORE_FENCE_SERVICE : 0);
    unsigned char *q;

    for (i = 0; i < hr->name_count; i++)
        need += 8u + hr->names[i].len;
    if (need > cap)
        return 0;
    glb_put32(p + 0, hr->kmt);
    glb_put32(p + 4, flags);
    glb_put32(p + 8, chunk == 0 ? hr->kmt_refs : 0);
    glb_put32(p + 12, (uint32_t)nt_n);
    glb_put32(p + 16, hr->name_count);
    glb_put32(p + 20, hr->sync_count ? hr->kinds[0] : GLBRIDGE_SYNC_NONE);
    glb_put64(p + 24, hr->fence_value.value);
    glb_put64(p + 32, hr->fence_value.signals);
    glb_put64(p + 40, hr->fence_value.offset);
    if (hr->service) {
        /* The device a new broker imports the semaphore on. */
        memcpy(p + GLB_RESTORE_FENCE_FIXED, hr->alloc.driver_uuid, 16);
        memcpy(p + GLB_RESTORE_FENCE_FIXED + 16, hr->alloc.device_uuid, 16);
    }
    q = put_claims(hr, first, nt_n, p + fixed);
    return (uint32_t)(q - p);
}

/* mutex_claim is the keyed-mutex part of a restore of hr: its flags
   (MUTEX_HELD when carries, the hold being in this request, else
   MUTEX_RELEASED for the first chunk after a release; MUTEX_ABANDONED
   whenever this connection knows it abandoned) and their key, value and
   events. */
static uint32_t mutex_claim(const glb_held *hr, int carries, uint32_t chunk, uint64_t *key, uint64_t *value,
                            uint32_t *events)
{
    uint32_t flags = hr->mutex.abandoned ? GLB_RESTORE_MUTEX_ABANDONED : 0;
    *key = *value = 0;
    *events = 0;
    if (carries) {
        flags |= GLB_RESTORE_MUTEX_HELD;
    } else if (hr->mutex.released && chunk == 0) {
        flags |= GLB_RESTORE_MUTEX_RELEASED;
    } else {
        return flags;
    }
    *key = hr->mutex.key;
    *value = hr->mutex.value;
    *events = hr->mutex.events;
    return flags;
}

/* restore_keyed_mutex_encode is glb_restore_encode for a keyed-mutex
   object (RESTORE_KEYED_MUTEX): held through its KMT handle alone. */
static uint32_t restore_keyed_mutex_encode(const glb_held *hr, unsigned char *p, size_t cap, int *held_claim)
{
    uint32_t flags, ev;
    uint64_t key, value;
    int carries = hr->mutex.held && hr->mutex.via == hr->kmt;

    if (GLB_RESTORE_KEYED_MUTEX_FIXED + (size_t)hr->data_len > cap)
        return 0;
    flags = mutex_claim(hr, carries, 0, &key, &value, &ev);
    if (hr->creator)
        flags |= GLB_RESTORE_CREATOR;
    glb_put32(p + 0, hr->kmt);
    glb_put32(p + 4, flags);
    glb_put32(p + 8, hr->kmt_refs);
    glb_put32(p + 12, hr->mutex_of);
    glb_put32(p + 16, hr->mutex_sync);
    glb_put32(p + 20, hr->data_len);
    glb_put32(p + 24, ev);
    glb_put32(p + 28, 0);
    glb_put64(p + 32, key);
    glb_put64(p + 40, value);
    if (hr->data_len)
        memcpy(p + GLB_RESTORE_KEYED_MUTEX_FIXED, hr->data, hr->data_len);
    *held_claim = carries;
    return GLB_RESTORE_KEYED_MUTEX_FIXED + hr->data_len;
}

uint32_t glb_restore_encode(glb_held *hr, uint32_t chunk, unsigned char *p, size_t cap,
                            uint32_t *name_n, int *held_claim)
{
    size_t first = (size_t)chunk * GLB_RESTORE_MAX_NT, nt_n, i, need;
    uint32_t flags = GLB_RESTORE_NT_NAMES, kmt_refs = 0, mh = 0, ev = 0, len;
    uint64_t key = 0, value = 0;
    unsigned char *q;
    int carries = 0;

    *name_n = 0;
    *held_claim = 0;
    if (hr->keyed_mutex)
        return chunk == 0 ? restore_keyed_mutex_encode(hr, p, cap, held_claim) : 0;
    if (first > hr->nt_count || (chunk > 0 && first == hr->nt_count))
        return 0;
    nt_n = hr->nt_count - first;
    if (nt_n > GLB_RESTORE_MAX_NT)
        nt_n = GLB_RESTORE_MAX_NT;
    if (chunk == 0 && hr->nt_count > 1)
        qsort(hr->nt, hr->nt_count, sizeof hr->nt[0], cmp_nt);
    if (hr->fence) {
        len = restore_fence_encode(hr, first, nt_n, chunk, p, cap);
        if (len)
            *name_n = hr->name_count;
        return len;
    }
    if (chunk == 0)
        kmt_refs = hr->kmt_refs;
    need = GLB_RESTORE_FIXED + 4u * hr->sync_count + 12u * nt_n + hr->data_len;
    for (i = 0; i < hr->name_count; i++)
        need += 8u + hr->names[i].len;
    if (need > cap)
        return 0;
    if (hr->creator)
        flags |= GLB_RESTORE_CREATOR;
    if (hr->service)
        flags |= GLB_RESTORE_SERVICE_ALLOCATED;
    if (hr->mutex.held) {
        if (hr->mutex.via == hr->kmt)
            carries = chunk == 0;
        else
            for (i = first; i < first + nt_n; i++)
                if (hr->nt[i].handle == hr->mutex.via)
                    carries = 1;
    }
    flags |= mutex_claim(hr, carries, chunk, &key, &value, &ev);
    if (carries) {
        mh = hr->mutex.via;
        *held_claim = 1;
    }
    glb_put32(p + 0, hr->kmt);
    glb_put32(p + 4, flags);
    glb_put32(p + 8, kmt_refs);
    glb_put32(p + 12, (uint32_t)nt_n);
    glb_put32(p + 16, hr->name_count);
    glb_put32(p + 20, hr->sync_count);
    glb_put32(p + 24, hr->data_len);
    glb_put32(p + 28, mh);
    glb_put64(p + 32, key);
    glb_put64(p + 40, value);
    glb_put32(p + 48, ev);
    glb_put32(p + 52, 0);
    glb_put_allocation(p + 56, &hr->alloc);
    q = p + GLB_RESTORE_FIXED;
    for (i = 0; i < hr->sync_count; i++, q += 4)
        glb_put32(q, hr->kinds[i]);
    q = put_claims(hr, first, nt_n, q);
    if (hr->data_len)
        memcpy(q, hr->data, hr->data_len);
    q += hr->data_len;
    *name_n = hr->name_count;
    return (uint32_t)(q - p);
}

void glb_restore_refused(glb_held *hr, uint32_t name_n, int held_claim, uint32_t mask)
{
    uint32_t i;
    /* From the last, so that deleting keeps the earlier indices. */
    for (i = name_n; i-- > 0;)
        if (i < 8 && (mask & (1u << i)) && i < hr->name_count)
            del_name(hr, i);
    if ((mask & GLB_RESTORE_MUTEX_REFUSED) && held_claim) {
        uint32_t ev = hr->mutex.events;
        int abandoned = hr->mutex.abandoned;
        memset(&hr->mutex, 0, sizeof hr->mutex);
        hr->mutex.events = ev;
        hr->mutex.abandoned = abandoned;
    }
}
