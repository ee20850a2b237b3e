/*
 * fuzz_seeds DIR: writes fuzz_reply's seeds into DIR, one file per seed:
 * valid replies of every kind libglbridge decodes (resource records,
 * LIST pages with and without sync sections, ACQUIRE_SYNC and RESTORE
 * replies, headers, DUPLICATE, OPEN_DUPLICATE and QUERY_OBJECT replies,
 * fence values, fence records, LIST_FENCES pages, keyed-mutex records
 * and LIST_FENCES pages with KEYED_MUTEXES), each as a bare decoder
 * input and as the reply to a real request function (SET_SESSION, a
 * service fence's CREATE_FENCE and a HOST signal among them), plus an
 * error reply, a FATAL, a LIST, a LIST_FENCES and a keyed-mutex list of
 * two pages, and the replies of a fence's, a duplicate's, a keyed
 * mutex's, a service fence's and names' sessions. The input format
 * is fuzz_reply.c's.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *dir;
static int seeds;

static void write_seed(const char *name, const unsigned char *p, size_t n)
{
    char path[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    seeds++;
}

/* record writes a version-2 resource record: levels level layouts,
   sync_count kinds, data_len bytes of data. */
static size_t record(unsigned char *p, uint32_t handle, uint32_t sync_count, uint32_t levels, uint32_t data_len)
{
    glbridge_allocation a;
    uint32_t i;
    size_t off;

    memset(p, 0, 184);
    memset(&a, 0, sizeof a);
    a.desc.dimension = GLBRIDGE_DIM_TEXTURE2D;
    a.desc.width = 67;
    a.desc.height = 33;
    a.desc.depth_or_array_size = 1;
    a.desc.mip_levels = levels ? levels : 1;
    a.desc.sample_count = 1;
    a.desc.format = 28;
    a.size = 11468;
    a.flags = levels ? GLBRIDGE_ALLOC_HOST_MEMORY : GLBRIDGE_ALLOC_DEDICATED;
    glb_put32(p + 0, handle);
    glb_put32(p + 4, 0x40000042u);
    glb_put32(p + 8, GLBRIDGE_ACCESS_READ | GLBRIDGE_ACCESS_WRITE);
    glb_put32(p + 12, sync_count);
    glb_put32(p + 16, data_len);
    glb_put32(p + 20, levels ? GLBRIDGE_RECORD_SERVICE_ALLOCATED : 0);
    glb_put_allocation(p + 24, &a);
    glb_put32(p + 136, 0x0DE1);
    glb_put32(p + 140, 0x8058);
    glb_put32(p + 144, 0x1908);
    glb_put32(p + 148, 0x1401);
    glb_put32(p + 156, 67);
    glb_put32(p + 160, 33);
    glb_put32(p + 164, 1);
    glb_put32(p + 168, a.desc.mip_levels);
    glb_put32(p + 172, 1);
    glb_put32(p + 176, levels);
    off = 184;
    for (i = 0; i < levels; i++, off += 40) {
        memset(p + off, 0, 40);
        glb_put64(p + off, i * 100u);
        glb_put64(p + off + 8, 100);
        glb_put32(p + off + 16, 67 >> i);
        glb_put32(p + off + 20, 33 >> i);
        glb_put32(p + off + 24, 1);
        glb_put32(p + off + 28, 4 * (67 >> i));
        glb_put32(p + off + 32, 33 >> i);
    }
    for (i = 0; i < sync_count; i++, off += 4)
        glb_put32(p + off, i ? GLBRIDGE_SYNC_TIMELINE : GLBRIDGE_SYNC_BINARY);
    for (i = 0; i < data_len; i++)
        p[off++] = (unsigned char)('a' + i % 26);
    return off;
}

/* list_page writes a LIST reply page of two entries. */
static size_t list_page(unsigned char *p, uint32_t next, int sync)
{
    size_t off = 8;
    uint32_t e, i;
    glb_put32(p, next);
    glb_put32(p + 4, 2);
    for (e = 0; e < 2; e++) {
        glbridge_allocation a;
        static const char *names[2] = {"first name", "zweiter Name"};
        unsigned char *q = p + off;
        memset(q, 0, 136);
        memset(&a, 0, sizeof a);
        a.desc.dimension = GLBRIDGE_DIM_TEXTURE2D;
        a.desc.width = a.desc.height = 64;
        a.desc.depth_or_array_size = a.desc.mip_levels = a.desc.sample_count = 1;
        a.desc.format = 28;
        a.size = 16384;
        glb_put32(q + 0, 0x40000002u | ((e + 1) << 6));
        glb_put32(q + 4, 1234);
        glb_put32(q + 8, 2);
        glb_put16(q + 12, (uint16_t)(e + 1)); /* names */
        glb_put16(q + 14, 1);                 /* holders */
        glb_put32(q + 16, 3);
        glb_put32(q + 20, 1);
        glb_put_allocation(q + 24, &a);
        off += 136;
        for (i = 0; i <= e; i++) {
            size_t l = strlen(names[i]);
            glb_put16(p + off, (uint16_t)l);
            memcpy(p + off + 2, names[i], l);
            off += 2 + l;
        }
        glb_put32(p + off, 1234);
        glb_put32(p + off + 4, 1000);
        glb_put32(p + off + 8, 7);
        glb_put32(p + off + 12, 2);
        off += 16;
        glb_put32(p + off, e ? GLBRIDGE_RECORD_SERVICE_ALLOCATED : 0);
        glb_put32(p + off + 4, e ? 11 : 0);
        if (e)
            memcpy(p + off + 8, "host memory", 11);
        off += 8 + (e ? 11 : 0);
        if (sync) {
            memset(p + off, 0, 40);
            glb_put32(p + off, e);
            glb_put32(p + off + 4, e);
            glb_put32(p + off + 8, e ? 1234 : 0);
            glb_put32(p + off + 12, e ? 7 : 0);
            glb_put64(p + off + 24, 5);
            glb_put64(p + off + 32, 42);
            off += 40;
            for (i = 0; i < e; i++, off += 4)
                glb_put32(p + off, GLBRIDGE_SYNC_TIMELINE);
        }
    }
    return off;
}

/* fence_list_page writes a LIST_FENCES reply page of two entries. */
static size_t fence_list_page(unsigned char *p, uint32_t next)
{
    size_t off = 8;
    uint32_t e, i;
    glb_put32(p, next);
    glb_put32(p + 4, 2);
    for (e = 0; e < 2; e++) {
        static const char *names[2] = {"a fence", "Global\\zweiter Zaun"};
        unsigned char *q = p + off;
        glb_put32(q + 0, 0x40000002u | ((e + 3) << 6));
        glb_put32(q + 4, 1234);
        glb_put32(q + 8, 3);
        glb_put32(q + 12, 2);
        glb_put32(q + 16, e);
        glb_put32(q + 20, e ? 3 : 1);
        glb_put64(q + 24, 100 + e);
        glb_put64(q + 32, 7);
        glb_put64(q + 40, e ? 50 : 0);
        glb_put16(q + 48, (uint16_t)(e + 1));
        glb_put16(q + 50, 0);
        off += 52;
        for (i = 0; i <= e; i++) {
            size_t l = strlen(names[i]);
            glb_put16(p + off, (uint16_t)l);
            memcpy(p + off + 2, names[i], l);
            off += 2 + l;
        }
    }
    return off;
}

static const char object_path[] = "\\Sessions\\1\\BaseNamedObjects\\fuzz";

/* keyed_mutex_record writes a CREATE_KEYED_MUTEX or OPEN_KEYED_MUTEX
   reply: bound to a resource and a fence, data_len bytes of data. */
static size_t keyed_mutex_record(unsigned char *p, uint32_t data_len)
{
    uint32_t i;
    glb_put32(p + 0, 0x400000C2u);
    glb_put32(p + 4, 0x40000042u);
    glb_put32(p + 8, 0x40000082u);
    glb_put32(p + 12, data_len);
    for (i = 0; i < data_len; i++)
        p[16 + i] = (unsigned char)('A' + i % 26);
    return 16 + data_len;
}

/* keyed_mutex_page writes a LIST_FENCES reply page with KEYED_MUTEXES of
   two entries: a free one of its own, a held one bound to a resource. */
static size_t keyed_mutex_page(unsigned char *p, uint32_t next)
{
    uint32_t e;
    glb_put32(p, next);
    glb_put32(p + 4, 2);
    for (e = 0; e < 2; e++) {
        unsigned char *q = p + 8 + 64 * e;
        memset(q, 0, 64);
        glb_put32(q + 0, 0x40000002u | ((e + 5) << 6));
        glb_put32(q + 4, e ? 0x40000042u : 0);
        glb_put32(q + 8, e ? 0x40000082u : 0);
        glb_put32(q + 12, 1234);
        glb_put32(q + 16, 2 + e);
        glb_put32(q + 20, e);
        glb_put32(q + 24, e);             /* free, held */
        glb_put32(q + 28, e ? 4321 : 0);  /* holder pid */
        glb_put32(q + 32, e ? 7 : 0);     /* holder conn */
        glb_put32(q + 36, 3);
        glb_put32(q + 40, 16);
        glb_put32(q + 44, 1);
        glb_put64(q + 48, 5);
        glb_put64(q + 56, 42);
    }
    return 8 + 128;
}

/* fence_record writes an OPEN_FENCE reply: kind 0 or 2, with the path. */
static size_t fence_record(unsigned char *p, uint32_t handle, uint32_t kind)
{
    size_t n = handle & 0x40000000u ? 0 : strlen(object_path);
    glb_put32(p + 0, handle);
    glb_put32(p + 4, 0x40000042u);
    glb_put32(p + 8, GLBRIDGE_ACCESS_READ | GLBRIDGE_ACCESS_WRITE);
    glb_put32(p + 12, 0x10000000u);
    glb_put32(p + 16, kind);
    glb_put32(p + 20, (uint32_t)n);
    glb_put64(p + 24, 41);
    glb_put64(p + 32, 6);
    glb_put64(p + 40, kind ? 9 : 0);
    memcpy(p + 48, object_path, n);
    return 48 + n;
}

static size_t fence_value(unsigned char *p, uint64_t v, uint64_t signals)
{
    glb_put64(p, v);
    glb_put64(p + 8, signals);
    glb_put64(p + 16, 3);
    return 24;
}

/* open_duplicate writes an OPEN_DUPLICATE reply: mask, path, record. */
static size_t open_duplicate(unsigned char *p, uint32_t sync_count)
{
    size_t n = strlen(object_path);
    glb_put32(p, GLBRIDGE_ACCESS_READ);
    glb_put32(p + 4, (uint32_t)n);
    memcpy(p + 8, object_path, n);
    return 8 + n + record(p + 8 + n, 0x24, sync_count, 0, 3);
}

static size_t object_info(unsigned char *p, const char *type, const char *name)
{
    size_t tl = strlen(type), nl = strlen(name);
    glb_put32(p + 0, 0x10);
    glb_put32(p + 4, 0x40000042u);
    glb_put32(p + 8, GLBRIDGE_ACCESS_READ);
    glb_put32(p + 12, 0x80000000u);
    glb_put32(p + 16, (uint32_t)tl);
    glb_put32(p + 20, (uint32_t)nl);
    memcpy(p + 24, type, tl);
    memcpy(p + 24 + tl, name, nl);
    return 24 + tl + nl;
}

static size_t duplicate_reply(unsigned char *p)
{
    glb_put64(p, 0xFEEDFACECAFEBEEFull);
    glb_put32(p + 8, GLBRIDGE_ACCESS_READ | GLBRIDGE_ACCESS_WRITE);
    glb_put32(p + 12, 0x10000000u);
    return 16;
}

static unsigned char in[GLBRIDGE_MAX_MESSAGE_SIZE], msg[GLBRIDGE_MAX_MESSAGE_SIZE];

/* bare writes a decoder seed: kind 0x80 + decoder, payload. */
static void bare(const char *name, unsigned decoder, const unsigned char *p, size_t n)
{
    in[0] = (unsigned char)(0x80 + decoder);
    memcpy(in + 1, p, n);
    write_seed(name, in, n + 1);
}

/* Client seeds: messages[] of lens[], each a header (type and id set as
   the client expects) and payload. */
static size_t add_msg(size_t off, uint16_t type, uint32_t id, uint32_t status, const unsigned char *pl,
                      size_t n, unsigned nfds)
{
    unsigned char *m = in + off + 2;
    glb_put16(in + off, (uint16_t)(GLB_HEADER_SIZE + n));
    glb_put_header(m, type, id, (uint32_t)n, (uint16_t)nfds);
    glb_put32(m + 20, status);
    memcpy(m + GLB_HEADER_SIZE, pl, n);
    return off + 2 + GLB_HEADER_SIZE + n;
}

/* The request of each of fuzz_reply's single-call client kinds (0 for
   the sessions, 21 and 22). */
static const uint16_t types[29] = {
    GLB_OPEN_KMT, GLB_OPEN_NAME, GLB_QUERY, GLB_ALLOCATE, GLB_LIST, GLB_LIST, GLB_ACQUIRE_SYNC,
    GLB_CREATE, GLB_SHARE, GLB_CLOSE, GLB_DUPLICATE, GLB_OPEN_DUPLICATE, GLB_QUERY_OBJECT,
    GLB_CREATE_FENCE, GLB_OPEN_FENCE, GLB_OPEN_FENCE, GLB_OPEN_FENCE, GLB_SIGNAL_FENCE,
    GLB_WAIT_FENCE, GLB_GET_FENCE, GLB_LIST_FENCES, 0, 0, GLB_CREATE_KEYED_MUTEX, GLB_OPEN_KEYED_MUTEX,
    GLB_LIST_FENCES, GLB_SET_SESSION, GLB_CREATE_FENCE, GLB_SIGNAL_FENCE,
};

/* write_twice writes the seed of in[0..end) and the same with a
   reconnecting client (flag 8). */
static void write_twice(const char *name, size_t end)
{
    char nm[128];
    write_seed(name, in, end);
    in[1] |= 8;
    snprintf(nm, sizeof nm, "%s-reconnecting", name);
    write_seed(nm, in, end);
}

static void client(const char *name, unsigned kind, unsigned nfds, uint32_t status, const unsigned char *pl,
                   size_t n)
{
    size_t end;
    in[0] = (unsigned char)kind;
    in[1] = (unsigned char)(nfds | 4);
    end = add_msg(2, (uint16_t)(types[kind] | GLB_REPLY_BIT), 1, status, pl, n, nfds);
    write_twice(name, end);
}

int main(int argc, char **argv)
{
    size_t n, end;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];

    /* Bare decoders. */
    n = record(msg, 0x40000042u, 1, 0, 5);
    bare("record-device", 0, msg, n);
    n = record(msg, 0x40000042u, 0, 3, 0);
    bare("record-host-levels", 0, msg, n);
    n = record(msg, 0x40000042u, 2, 2, 300);
    bare("record-2sync-data", 0, msg, n);
    n = list_page(msg, 0, 0);
    bare("list-page", 1, msg, n);
    n = list_page(msg, 77, 1);
    bare("list-page-sync", 2, msg, n);
    glb_put64(msg, 42);
    glb_put32(msg + 8, 1);
    glb_put32(msg + 12, 9);
    bare("acquire-reply", 3, msg, 16);
    glb_put32(msg, 0x40000042u);
    glb_put32(msg + 4, 0x80000003u);
    bare("restore-reply", 4, msg, 8);
    glb_put_header(msg, 13 | GLB_REPLY_BIT, 1, 8, 0);
    glb_put32(msg + 24, 0x40000042u);
    glb_put32(msg + 28, 0);
    bare("header", 5, msg, 32);
    bare("duplicate-reply", 6, msg, duplicate_reply(msg));
    bare("open-duplicate-reply", 7, msg, open_duplicate(msg, 1));
    bare("object-info", 8, msg, object_info(msg, "DxgkSharedResource", object_path));
    bare("object-info-unnamed", 8, msg, object_info(msg, "DxgkSharedSyncObject", ""));
    bare("fence-value", 9, msg, fence_value(msg, 5, 2));
    bare("fence-record", 10, msg, fence_record(msg, 0x10, GLBRIDGE_SYNC_TIMELINE));
    bare("fence-record-kmt", 10, msg, fence_record(msg, 0x40000042u, 0));
    bare("fence-list-page", 11, msg, fence_list_page(msg, 0));
    bare("keyed-mutex-record", 12, msg, keyed_mutex_record(msg, 7));
    bare("keyed-mutex-record-empty", 12, msg, keyed_mutex_record(msg, 0));
    bare("keyed-mutex-page", 13, msg, keyed_mutex_page(msg, 0));

    /* Replies to request functions. */
    n = record(msg, 0x40000042u, 1, 0, 5);
    client("open-kmt", 0, 2, 0, msg, n);
    n = record(msg, 0x10, 2, 0, 0);
    client("open-name", 1, 3, 0, msg, n);
    n = record(msg, 0x40000042u, 0, 3, 20);
    client("query", 2, 0, 0, msg, n);
    client("allocate", 3, 1, 0, msg, n);
    n = list_page(msg, 0, 0);
    client("list", 4, 0, 0, msg, n);
    n = list_page(msg, 0, 1);
    client("list-sync", 5, 0, 0, msg, n);
    glb_put64(msg, 42);
    glb_put32(msg + 8, 1);
    glb_put32(msg + 12, 9);
    client("acquire", 6, 0, 0, msg, 16);
    memset(msg, 0, 8);
    glb_put32(msg, 0x40000082u);
    client("create", 7, 0, 0, msg, 8);
    glb_put32(msg, 0x24);
    glb_put32(msg + 4, GLBRIDGE_ACCESS_READ);
    client("share", 8, 0, 0, msg, 8);
    client("close", 9, 0, 0, msg, 0);
    client("error-not-found", 0, 0, 7, (const unsigned char *)"no such resource", 16);
    client("duplicate", 10, 0, 0, msg, duplicate_reply(msg));
    client("open-duplicate", 11, 2, 0, msg, open_duplicate(msg, 1));
    client("query-object", 12, 0, 0, msg, object_info(msg, "DxgkSharedResource", object_path));
    memset(msg, 0, 8);
    glb_put32(msg, 0x40000082u);
    client("create-fence", 13, 0, 0, msg, 8);
    client("open-fence-kmt", 14, 0, 0, msg, fence_record(msg, 0x40000042u, 0));
    client("open-fence-name", 15, 1, 0, msg, fence_record(msg, 0x10, GLBRIDGE_SYNC_TIMELINE));
    client("open-fence-duplicate", 16, 0, 0, msg, fence_record(msg, 0x14, 0));
    client("signal-fence", 17, 0, 0, msg, fence_value(msg, 3, 1));
    client("wait-fence", 18, 0, 0, msg, fence_value(msg, 4, 2));
    client("wait-fence-timeout", 18, 0, 15, (const unsigned char *)"fence is at 1, not 3", 20);
    client("wrong-type", 19, 0, 22, (const unsigned char *)"0x40000042 is a resource, not a fence", 37);
    client("get-fence", 19, 0, 0, msg, fence_value(msg, 5, 3));
    client("list-fences", 20, 0, 0, msg, fence_list_page(msg, 0));
    client("create-keyed-mutex", 23, 0, 0, msg, keyed_mutex_record(msg, 1));
    client("open-keyed-mutex", 24, 0, 0, msg, keyed_mutex_record(msg, 40));
    client("open-keyed-mutex-wrong-type", 24, 0, 22, (const unsigned char *)"0x400000c2 is a fence", 21);
    client("list-keyed-mutexes", 25, 0, 0, msg, keyed_mutex_page(msg, 0));
    client("set-session", 26, 0, 0, msg, 0);
    client("set-session-invalid", 26, 0, 13, (const unsigned char *)"this connection holds 1 references", 34);
    memset(msg, 0, 8);
    glb_put32(msg, 0x40000082u);
    client("create-fence-service", 27, 1, 0, msg, 8);
    client("create-fence-service-no-semaphore", 27, 0, 20, (const unsigned char *)"no timeline semaphores", 22);
    client("host-signal-fence", 28, 0, 0, msg, fence_value(msg, 3, 1));
    client("host-signal-fence-no-semaphore", 28, 0, 20, (const unsigned char *)"no service fence", 16);

    /* FATAL, a LIST and a LIST_FENCES of two pages. */
    in[0] = 2;
    in[1] = 0; /* no fixing: FATAL's type stays */
    end = add_msg(2, GLB_FATAL_TYPE, 0, 8, (const unsigned char *)"uid 1000 is not admitted", 24, 0);
    write_seed("fatal", in, end);
    in[0] = 5;
    in[1] = 4;
    n = list_page(msg, 9, 1);
    end = add_msg(2, GLB_LIST | GLB_REPLY_BIT, 1, 0, msg, n, 0);
    n = list_page(msg, 0, 1);
    end = add_msg(end, GLB_LIST | GLB_REPLY_BIT, 2, 0, msg, n, 0);
    write_seed("list-two-pages", in, end);
    in[0] = 20;
    in[1] = 4;
    n = fence_list_page(msg, 9);
    end = add_msg(2, GLB_LIST_FENCES | GLB_REPLY_BIT, 1, 0, msg, n, 0);
    n = fence_list_page(msg, 0);
    end = add_msg(end, GLB_LIST_FENCES | GLB_REPLY_BIT, 2, 0, msg, n, 0);
    write_seed("list-fences-two-pages", in, end);
    in[0] = 25;
    in[1] = 4;
    n = keyed_mutex_page(msg, 9);
    end = add_msg(2, GLB_LIST_FENCES | GLB_REPLY_BIT, 1, 0, msg, n, 0);
    n = keyed_mutex_page(msg, 0);
    end = add_msg(end, GLB_LIST_FENCES | GLB_REPLY_BIT, 2, 0, msg, n, 0);
    write_seed("list-keyed-mutexes-two-pages", in, end);

    /* Sessions: a fence opened by name (with its semaphore), signalled,
       waited for and shared by another name; a duplicate redeemed, shared by name,
       duplicated again with CLOSE_SOURCE and queried (NOT_FOUND). */
    in[0] = 21;
    in[1] = 1 | 4;
    n = fence_record(msg, 0x10, GLBRIDGE_SYNC_TIMELINE);
    end = add_msg(2, GLB_OPEN_FENCE | GLB_REPLY_BIT, 1, 0, msg, n, 1);
    end = add_msg(end, GLB_SIGNAL_FENCE | GLB_REPLY_BIT, 2, 0, msg, fence_value(msg, 9, 7), 0);
    end = add_msg(end, GLB_WAIT_FENCE | GLB_REPLY_BIT, 3, 0, msg, fence_value(msg, 9, 7), 0);
    glb_put32(msg, 0x28);
    glb_put32(msg + 4, GLBRIDGE_ACCESS_READ);
    end = add_msg(end, GLB_SHARE | GLB_REPLY_BIT, 4, 0, msg, 8, 0);
    write_twice("fence-session", end);
    in[0] = 22;
    in[1] = 2 | 4;
    end = add_msg(2, GLB_OPEN_DUPLICATE | GLB_REPLY_BIT, 1, 0, msg, open_duplicate(msg, 1), 2);
    glb_put32(msg, 0x28);
    glb_put32(msg + 4, GLBRIDGE_ACCESS_READ);
    end = add_msg(end, GLB_SHARE | GLB_REPLY_BIT, 2, 0, msg, 8, 0);
    end = add_msg(end, GLB_DUPLICATE | GLB_REPLY_BIT, 3, 0, msg, duplicate_reply(msg), 0);
    end = add_msg(end, GLB_QUERY_OBJECT | GLB_REPLY_BIT, 4, 7, (const unsigned char *)"closed", 6, 0);
    write_twice("duplicate-session", end);

    /* A keyed mutex created, acquired (abandoned), released, acquired; a
       service fence created (with its semaphore), signalled by the
       broker, shared by name and that handle closed; a resource opened
       by name, shared by another, the first closed, a session refused. */
    in[0] = 29;
    in[1] = 4;
    end = add_msg(2, GLB_CREATE_KEYED_MUTEX | GLB_REPLY_BIT, 1, 0, msg, keyed_mutex_record(msg, 3), 0);
    glb_put64(msg, 42);
    glb_put32(msg + 8, 1);
    glb_put32(msg + 12, 9);
    end = add_msg(end, GLB_ACQUIRE_SYNC | GLB_REPLY_BIT, 2, 0, msg, 16, 0);
    end = add_msg(end, GLB_RELEASE_SYNC | GLB_REPLY_BIT, 3, 0, msg, 0, 0);
    glb_put32(msg + 12, 10);
    end = add_msg(end, GLB_ACQUIRE_SYNC | GLB_REPLY_BIT, 4, 0, msg, 16, 0);
    write_twice("keyed-mutex-session", end);
    in[0] = 30;
    in[1] = 1 | 4;
    memset(msg, 0, 8);
    glb_put32(msg, 0x40000082u);
    end = add_msg(2, GLB_CREATE_FENCE | GLB_REPLY_BIT, 1, 0, msg, 8, 1);
    end = add_msg(end, GLB_SIGNAL_FENCE | GLB_REPLY_BIT, 2, 0, msg, fence_value(msg, 9, 1), 0);
    glb_put32(msg, 0x2C);
    glb_put32(msg + 4, GLBRIDGE_ACCESS_READ);
    end = add_msg(end, GLB_SHARE | GLB_REPLY_BIT, 3, 0, msg, 8, 0);
    end = add_msg(end, GLB_CLOSE | GLB_REPLY_BIT, 4, 0, msg, 0, 0);
    write_twice("service-fence-session", end);
    in[0] = 31;
    in[1] = 1 | 4;
    n = record(msg, 0x10, 0, 0, 0);
    end = add_msg(2, GLB_OPEN_NAME | GLB_REPLY_BIT, 1, 0, msg, n, 1);
    glb_put32(msg, 0x2C);
    glb_put32(msg + 4, GLBRIDGE_ACCESS_READ);
    end = add_msg(end, GLB_SHARE | GLB_REPLY_BIT, 2, 0, msg, 8, 0);
    end = add_msg(end, GLB_CLOSE | GLB_REPLY_BIT, 3, 0, msg, 0, 0);
    end = add_msg(end, GLB_SET_SESSION | GLB_REPLY_BIT, 4, 13, (const unsigned char *)"holds references", 16, 0);
    write_twice("names-session", end);
    printf("fuzz_seeds: %d seeds in %s\n", seeds, dir);
    return 0;
}
