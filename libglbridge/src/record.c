/* Records: Desc, Allocation, GL section, level layouts, resource record. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void glb_parse_desc(const unsigned char *p, glbridge_desc *d)
{
    d->dimension = glb_get32(p + 0);
    d->width = glb_get32(p + 4);
    d->height = glb_get32(p + 8);
    d->depth_or_array_size = glb_get32(p + 12);
    d->mip_levels = glb_get32(p + 16);
    d->sample_count = glb_get32(p + 20);
    d->format = glb_get32(p + 24);
    d->bind_flags = glb_get32(p + 28);
    d->misc_flags = glb_get32(p + 32);
    d->cpu_access_flags = glb_get32(p + 36);
}

void glb_put_desc(unsigned char *p, const glbridge_desc *d)
{
    glb_put32(p + 0, d->dimension);
    glb_put32(p + 4, d->width);
    glb_put32(p + 8, d->height);
    glb_put32(p + 12, d->depth_or_array_size);
    glb_put32(p + 16, d->mip_levels);
    glb_put32(p + 20, d->sample_count);
    glb_put32(p + 24, d->format);
    glb_put32(p + 28, d->bind_flags);
    glb_put32(p + 32, d->misc_flags);
    glb_put32(p + 36, d->cpu_access_flags);
}

void glb_parse_allocation(const unsigned char *p, glbridge_allocation *a)
{
    glb_parse_desc(p, &a->desc);
    a->vk_format = glb_get32(p + 40);
    a->tiling = glb_get32(p + 44);
    a->image_usage = glb_get32(p + 48);
    a->image_flags = glb_get32(p + 52);
    a->size = glb_get64(p + 56);
    a->offset = glb_get64(p + 64);
    a->memory_type_index = glb_get32(p + 72);
    a->flags = glb_get32(p + 76);
    memcpy(a->driver_uuid, p + 80, 16);
    memcpy(a->device_uuid, p + 96, 16);
}

void glb_put_allocation(unsigned char *p, const glbridge_allocation *a)
{
    glb_put_desc(p, &a->desc);
    glb_put32(p + 40, a->vk_format);
    glb_put32(p + 44, a->tiling);
    glb_put32(p + 48, a->image_usage);
    glb_put32(p + 52, a->image_flags);
    glb_put64(p + 56, a->size);
    glb_put64(p + 64, a->offset);
    glb_put32(p + 72, a->memory_type_index);
    glb_put32(p + 76, a->flags);
    memcpy(p + 80, a->driver_uuid, 16);
    memcpy(p + 96, a->device_uuid, 16);
}

int glb_parse_record(const unsigned char *p, uint32_t len, glbridge_record *rec)
{
    const unsigned char *g;
    uint32_t i, lc, sc, dl;
    uint64_t want;

    memset(rec, 0, sizeof *rec);
    if (len < 184)
        return -1;
    sc = glb_get32(p + 12);
    dl = glb_get32(p + 16);
    lc = glb_get32(p + 176);
    if (sc > GLBRIDGE_MAX_SYNC_OBJECTS || lc > GLBRIDGE_MAX_LEVELS || dl > GLBRIDGE_MAX_PRIVATE_DATA)
        return -1;
    want = 184u + 40u * (uint64_t)lc + 4u * (uint64_t)sc + dl;
    if (want != len)
        return -1;
    rec->handle = glb_get32(p + 0);
    rec->kmt = glb_get32(p + 4);
    rec->access = glb_get32(p + 8);
    rec->sync_count = sc;
    rec->data_len = dl;
    rec->flags = glb_get32(p + 20);
    glb_parse_allocation(p + 24, &rec->alloc);
    g = p + 136;
    rec->gl.target = glb_get32(g + 0);
    rec->gl.internal_format = glb_get32(g + 4);
    rec->gl.format = glb_get32(g + 8);
    rec->gl.type = glb_get32(g + 12);
    memcpy(rec->gl.swizzle, g + 16, 4);
    rec->gl.width = glb_get32(g + 20);
    rec->gl.height = glb_get32(g + 24);
    rec->gl.depth = glb_get32(g + 28);
    rec->gl.levels = glb_get32(g + 32);
    rec->gl.samples = glb_get32(g + 36);
    rec->gl.level_count = lc;
    for (i = 0; i < lc; i++) {
        const unsigned char *l = p + 184 + 40 * i;
        rec->levels[i].offset = glb_get64(l + 0);
        rec->levels[i].subresource_size = glb_get64(l + 8);
        rec->levels[i].width = glb_get32(l + 16);
        rec->levels[i].height = glb_get32(l + 20);
        rec->levels[i].depth = glb_get32(l + 24);
        rec->levels[i].row_pitch = glb_get32(l + 28);
        rec->levels[i].rows = glb_get32(l + 32);
    }
    for (i = 0; i < sc; i++)
        rec->sync_kinds[i] = glb_get32(p + 184 + 40 * lc + 4 * i);
    if (dl > 0) {
        rec->data = malloc(dl);
        if (!rec->data) {
            memset(rec, 0, sizeof *rec);
            return -2;
        }
        memcpy(rec->data, p + 184 + 40 * lc + 4 * sc, dl);
    }
    return 0;
}

int glb_parse_acquire_reply(const unsigned char *p, uint32_t len, uint64_t *value, uint32_t *flags,
                            uint32_t *events)
{
    *value = 0;
    *flags = 0;
    *events = 0;
    if (len != 16)
        return -1;
    *value = glb_get64(p);
    *flags = glb_get32(p + 8);
    *events = glb_get32(p + 12);
    return 0;
}

int glb_parse_restore_reply(const unsigned char *p, uint32_t len, uint32_t *kmt, uint32_t *refused)
{
    *kmt = 0;
    *refused = 0;
    if (len != 8)
        return -1;
    *kmt = glb_get32(p);
    *refused = glb_get32(p + 4);
    return 0;
}

/* access_valid: granted rights are ACCESS_READ and ACCESS_WRITE bits, not 0. */
static int access_valid(uint32_t a)
{
    return a != 0 && (a & ~(GLBRIDGE_ACCESS_READ | GLBRIDGE_ACCESS_WRITE)) == 0;
}

int glb_parse_duplicate_reply(const unsigned char *p, uint32_t len, uint64_t *token, uint32_t *access,
                              uint32_t *mask)
{
    *token = 0;
    *access = 0;
    *mask = 0;
    if (len != 16 || glb_get64(p) == 0 || !access_valid(glb_get32(p + 8)))
        return -1;
    *token = glb_get64(p);
    *access = glb_get32(p + 8);
    *mask = glb_get32(p + 12);
    return 0;
}

/* take_string copies n bytes at p into out (room for n + 1) as a C
   string: -1 when they hold a NUL. */
static int take_string(const unsigned char *p, uint32_t n, char *out)
{
    if (memchr(p, 0, n))
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

int glb_parse_open_duplicate_reply(const unsigned char *p, uint32_t len, uint32_t *mask, char *path,
                                   glbridge_record *rec)
{
    uint32_t n;

    *mask = 0;
    path[0] = '\0';
    memset(rec, 0, sizeof *rec);
    if (len < 8)
        return -1;
    n = glb_get32(p + 4);
    if (n > GLBRIDGE_MAX_OBJECT_PATH || n > len - 8 || take_string(p + 8, n, path) != 0) {
        path[0] = '\0';
        return -1;
    }
    *mask = glb_get32(p);
    return glb_parse_record(p + 8 + n, len - 8 - n, rec);
}

int glb_parse_object_info(const unsigned char *p, uint32_t len, glbridge_object_info *o)
{
    uint32_t tl, nl;

    memset(o, 0, sizeof *o);
    if (len < 24)
        return -1;
    tl = glb_get32(p + 16);
    nl = glb_get32(p + 20);
    if (tl > GLBRIDGE_MAX_NAME_LEN || nl > GLBRIDGE_MAX_OBJECT_PATH || 24u + tl + nl != len ||
        take_string(p + 24, tl, o->type) != 0 || take_string(p + 24 + tl, nl, o->name) != 0) {
        memset(o, 0, sizeof *o);
        return -1;
    }
    o->handle = glb_get32(p + 0);
    o->kmt = glb_get32(p + 4);
    o->access = glb_get32(p + 8);
    o->mask = glb_get32(p + 12);
    return 0;
}

int glb_parse_fence_value(const unsigned char *p, uint32_t len, glbridge_fence_value *v)
{
    memset(v, 0, sizeof *v);
    if (len != 24)
        return -1;
    v->value = glb_get64(p);
    v->signals = glb_get64(p + 8);
    v->offset = glb_get64(p + 16);
    return 0;
}

int glb_parse_fence_record(const unsigned char *p, uint32_t len, glbridge_fence *f)
{
    uint32_t kind, service, n;

    memset(f, 0, sizeof *f);
    if (len < 48)
        return -1;
    kind = glb_get32(p + 16);
    service = kind & GLB_FENCE_RECORD_SERVICE;
    kind &= ~GLB_FENCE_RECORD_SERVICE;
    n = glb_get32(p + 20);
    if ((kind != GLBRIDGE_SYNC_NONE && kind != GLBRIDGE_SYNC_TIMELINE) || (service && kind != GLBRIDGE_SYNC_TIMELINE) ||
        !access_valid(glb_get32(p + 8)) || n > GLBRIDGE_MAX_OBJECT_PATH || 48u + n != len ||
        take_string(p + 48, n, f->name) != 0) {
        memset(f, 0, sizeof *f);
        return -1;
    }
    f->handle = glb_get32(p + 0);
    f->kmt = glb_get32(p + 4);
    f->access = glb_get32(p + 8);
    f->mask = glb_get32(p + 12);
    f->sync_kind = kind;
    f->service = service != 0;
    return glb_parse_fence_value(p + 24, 24, &f->value);
}

int glb_parse_keyed_mutex_record(const unsigned char *p, uint32_t len, glbridge_keyed_mutex *m)
{
    uint32_t dl;

    memset(m, 0, sizeof *m);
    if (len < GLB_KEYED_MUTEX_RECORD_FIXED)
        return -1;
    dl = glb_get32(p + 12);
    if (dl > GLBRIDGE_MAX_PRIVATE_DATA || GLB_KEYED_MUTEX_RECORD_FIXED + dl != len)
        return -1;
    if (dl > 0) {
        m->data = malloc(dl);
        if (!m->data)
            return -2;
        memcpy(m->data, p + GLB_KEYED_MUTEX_RECORD_FIXED, dl);
    }
    m->kmt = glb_get32(p + 0);
    m->resource = glb_get32(p + 4);
    m->sync = glb_get32(p + 8);
    m->data_len = dl;
    return 0;
}

void glbridge_record_free(glbridge_record *rec)
{
    if (!rec)
        return;
    free(rec->data);
    memset(rec, 0, sizeof *rec);
}

void glbridge_keyed_mutex_free(glbridge_keyed_mutex *m)
{
    if (!m)
        return;
    free(m->data);
    memset(m, 0, sizeof *m);
}
