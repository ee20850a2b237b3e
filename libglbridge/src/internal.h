/* Internal declarations of libglbridge; not installed. */
#ifndef GLBRIDGE_INTERNAL_H
#define GLBRIDGE_INTERNAL_H

#define GLBRIDGE_BUILD 1
#include "glbridge.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define GLB_MAGIC 0x52424C47u
#define GLB_HEADER_SIZE 24u
#define GLB_FATAL_TYPE 0xFFFFu
#define GLB_REPLY_BIT 0x8000u
#define GLB_MAX_ERROR_TEXT 256u

enum {
    GLB_CREATE = 1, GLB_SHARE = 2, GLB_OPEN_KMT = 3, GLB_OPEN_NAME = 4,
    GLB_QUERY = 5, GLB_UPDATE_DATA = 6, GLB_CLOSE = 7, GLB_LIST = 8,
    GLB_ATTACH_SYNC = 9, GLB_ACQUIRE_SYNC = 10, GLB_RELEASE_SYNC = 11,
    GLB_ALLOCATE = 12, GLB_RESTORE = 13, GLB_DUPLICATE = 14, GLB_OPEN_DUPLICATE = 15,
    GLB_QUERY_OBJECT = 16, GLB_CREATE_FENCE = 17, GLB_OPEN_FENCE = 18, GLB_SIGNAL_FENCE = 19,
    GLB_WAIT_FENCE = 20, GLB_GET_FENCE = 21, GLB_LIST_FENCES = 22, GLB_RESTORE_FENCE = 23,
    GLB_CREATE_KEYED_MUTEX = 24, GLB_OPEN_KEYED_MUTEX = 25, GLB_RESTORE_KEYED_MUTEX = 26, GLB_SET_SESSION = 27
};

/* CREATE_FENCE's flags. */
#define GLB_FENCE_SERVICE 1u              /* the broker allocates the semaphore (a service fence) */
/* SIGNAL_FENCE's flags. */
#define GLB_SIGNAL_REBASE 1u
#define GLB_SIGNAL_HOST 2u                /* the broker signals a service fence's semaphore */
/* OPEN_FENCE's record: the sync-kind word's SERVICE bit. */
#define GLB_FENCE_RECORD_SERVICE 0x10000u
/* LIST_FENCES' flags. */
#define GLB_LIST_KEYED_MUTEXES 1u         /* list the keyed-mutex objects instead */
#define GLB_KEYED_MUTEX_RECORD_FIXED 16u  /* keyed-mutex record before its data */
#define GLB_KEYED_MUTEX_ENTRY_SIZE 64u    /* a LIST_FENCES entry with KEYED_MUTEXES */

/* RESTORE (docs/protocol.md, "13 RESTORE"). */
#define GLB_RESTORE_CREATOR 1u
#define GLB_RESTORE_SERVICE_ALLOCATED 2u
#define GLB_RESTORE_MUTEX_HELD 4u
#define GLB_RESTORE_MUTEX_RELEASED 8u
#define GLB_RESTORE_NT_NAMES 16u          /* each NT claim is 12 bytes: handle, access, name */
#define GLB_RESTORE_MUTEX_ABANDONED 32u   /* an acquire of this connection was told the mutex is abandoned */
#define GLB_RESTORE_FENCE_SERVICE 64u     /* RESTORE_FENCE: a service fence this connection created; UUIDs follow */
#define GLB_RESTORE_FIXED 168u           /* payload bytes before the sync kinds */
#define GLB_RESTORE_FENCE_FIXED 48u      /* RESTORE_FENCE's bytes before the NT claims (80 with SERVICE) */
#define GLB_RESTORE_KEYED_MUTEX_FIXED 48u /* RESTORE_KEYED_MUTEX's bytes before the data */
#define GLB_RESTORE_MAX_NT 256u          /* NT handles per RESTORE */
#define GLB_RESTORE_MUTEX_REFUSED 0x80000000u

/* Reconnection defaults (glbridge_connect_options). */
#define GLB_DEFAULT_CALL_WAIT_MS 10000u
#define GLB_DEFAULT_MAX_BACKOFF_MS 500u
#define GLB_FIRST_BACKOFF_MS 5u

/* A name this connection knows its resource by, with the access it was
   shared with (or granted, for an opener). */
typedef struct glb_name_claim {
    char *name;               /* malloc'd, len bytes (no NUL needed; one is kept) */
    uint32_t len;
    uint32_t access;
} glb_name_claim;

/* An NT handle with the access its restore claims and the name of its
   object: 0 for none, i + 1 for names[i] of its glb_held. */
typedef struct glb_nt_claim {
    uint32_t handle, access, name;
} glb_nt_claim;

/* glb_mutex_view: what this connection knows of a keyed mutex (see
   RESTORE's MUTEX_HELD, MUTEX_RELEASED and MUTEX_ABANDONED). */
typedef struct glb_mutex_view {
    int held, released;
    int abandoned;            /* the broker said it is abandoned (for good), or a hold of ours ended unreleased */
    uint32_t via;             /* the handle it is held through */
    uint64_t key, value;
    uint32_t events;
} glb_mutex_view;

/* glb_held: one resource (or fence, or keyed-mutex object) as a
   reconnecting client holds it: everything a new broker needs to bring
   it back. A fence has no Allocation, data or keyed mutex; its
   sync_count is 0 or 1 (a timeline semaphore), its fds the semaphore's
   dup only. A keyed-mutex object has no Allocation, fds or NT handles:
   its data, KMT references, its resource's and sync object's KMT
   handles and its mutex view. */
typedef struct glb_held {
    uint32_t kmt;
    int fence;                /* a fence: restored with RESTORE_FENCE */
    int keyed_mutex;          /* a keyed-mutex object: restored with RESTORE_KEYED_MUTEX */
    uint32_t mutex_of, mutex_sync; /* a keyed-mutex object's resource and sync object (KMT handles, 0 for none) */
    glbridge_fence_value fence_value; /* a fence's latest state learnt: the one with the most signals */
    glbridge_allocation alloc;
    uint32_t sync_count;
    uint32_t kinds[GLBRIDGE_MAX_SYNC_OBJECTS];
    unsigned char *data;      /* data_len bytes (NULL when 0) */
    uint32_t data_len;
    int creator;
    /* service: a resource the broker allocated (RESTORE's
       SERVICE_ALLOCATED); for a fence, a service fence this connection
       created (RESTORE_FENCE's SERVICE), on the device whose UUIDs are
       alloc.driver_uuid and alloc.device_uuid. */
    int service;
    uint32_t kmt_refs;        /* creates, allocations, OPEN_KMTs */
    glb_nt_claim *nt;         /* nt_count NT handles */
    size_t nt_count, nt_cap;
    glb_name_claim names[GLBRIDGE_MAX_NAMES];
    uint32_t name_count;
    int fds[1 + GLBRIDGE_MAX_SYNC_OBJECTS]; /* dups: memory, then one per kind (a fence: its semaphore) */
    uint32_t nfds;
    int fds_ok;               /* 0 when a dup failed: it cannot be restored */
    glb_mutex_view mutex;
    size_t index;             /* in glb_table.res */
} glb_held;

/* glb_table: the resources a reconnecting client holds, and a map from
   each of its handles (KMT and NT) to its resource. */
typedef struct glb_slot {
    uint32_t handle;          /* 0 empty, 1 deleted (no handle has either value) */
    glb_held *hr;
} glb_slot;

typedef struct glb_table {
    glb_held **res;
    size_t count, cap;
    glb_slot *slots;
    size_t nslots, used, deleted; /* nslots a power of two, or 0 */
    size_t kept_fds;
} glb_table;

struct glbridge_client {
    pthread_mutex_t mu;       /* serialises requests and guards everything below */
    int fd;                   /* the socket; -1 once broken */
    glbridge_status broken;   /* why fd is -1 (GLBRIDGE_E_CLOSED, ...), OK while usable */
    uint32_t next_id;
    unsigned char *buf;       /* GLBRIDGE_MAX_MESSAGE_SIZE bytes: requests and replies */
    char last_error[GLB_MAX_ERROR_TEXT + 128];
    /* Reconnection (glbridge_connect_opts with reconnect). */
    int reconnect;
    char path[128];           /* the socket path, for dialling again */
    uint32_t call_wait_ms, max_backoff_ms;
    uint64_t down_since_ns;   /* CLOCK_MONOTONIC when the connection was lost; 0 while up */
    glb_table held;
    int has_session;          /* SET_SESSION succeeded: a new connection is set to session first */
    uint32_t session;
    uint32_t reconnects, restored, refused, untracked;
};

/* A received reply: its payload lies in the client's buffer. */
typedef struct glb_reply {
    const unsigned char *payload;
    uint32_t len;
    int fds[GLBRIDGE_MAX_FDS_PER_MESSAGE];
    unsigned nfds;
} glb_reply;

/* Little-endian accessors: the wire has no alignment. */
static inline uint16_t glb_get16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t glb_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t glb_get64(const unsigned char *p)
{
    return (uint64_t)glb_get32(p) | (uint64_t)glb_get32(p + 4) << 32;
}
static inline void glb_put16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static inline void glb_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static inline void glb_put64(unsigned char *p, uint64_t v) { glb_put32(p, (uint32_t)v); glb_put32(p + 4, (uint32_t)(v >> 32)); }

/* transport.c */
unsigned char *glb_payload(glbridge_client *c);  /* where a request's payload goes */
glbridge_status glb_lock(glbridge_client *c);     /* locks; fails (unlocked) when broken */
void glb_unlock(glbridge_client *c);
void glb_close_fds(glb_reply *r);
glbridge_status glb_fail(glbridge_client *c, glbridge_status st, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
glbridge_status glb_protocol(glbridge_client *c, glb_reply *r, const char *what);

glbridge_status glb_call(glbridge_client *c, uint16_t type, uint32_t payload_len,
                         const int *fds, unsigned nfds, unsigned max_fds, glb_reply *r);
uint64_t glb_now_ns(void);

/* Reply header (the fixed 24 bytes), decoded. */
typedef struct glb_header {
    uint16_t version, type;
    uint32_t id, payload_len;
    uint16_t num_fds, flags;
    uint32_t status;
} glb_header;
/* glb_parse_header decodes the header of a message of n bytes: 0, or -1
   shorter than the header, -2 bad magic, -3 payload_len not n - 24. */
int glb_parse_header(const unsigned char *m, size_t n, glb_header *h);
void glb_put_header(unsigned char *m, uint16_t type, uint32_t id, uint32_t payload_len, uint16_t nfds);

/* requests.c */
/* glb_check_name checks a name's length locally (BAD_NAME), storing it. */
glbridge_status glb_check_name(glbridge_client *c, const char *name, size_t *len);

/* record.c */
void glb_parse_desc(const unsigned char *p, glbridge_desc *d);
void glb_put_desc(unsigned char *p, const glbridge_desc *d);
void glb_parse_allocation(const unsigned char *p, glbridge_allocation *a);
void glb_put_allocation(unsigned char *p, const glbridge_allocation *a);
/* glb_parse_record parses a whole version-2 record of exactly len bytes;
   0 on success, -1 when malformed, -2 out of memory. */
int glb_parse_record(const unsigned char *p, uint32_t len, glbridge_record *rec);
/* The small replies: 0 on success, -1 when malformed. */
int glb_parse_acquire_reply(const unsigned char *p, uint32_t len, uint64_t *value, uint32_t *flags,
                            uint32_t *events);
int glb_parse_restore_reply(const unsigned char *p, uint32_t len, uint32_t *kmt, uint32_t *refused);
/* DUPLICATE's reply: the token (never 0) and the new handle's rights
   (only ACCESS_READ/ACCESS_WRITE, not 0) and mask. */
int glb_parse_duplicate_reply(const unsigned char *p, uint32_t len, uint64_t *token, uint32_t *access,
                              uint32_t *mask);
/* glb_parse_open_duplicate_reply parses an OPEN_DUPLICATE reply of len
   bytes: the mask, the object's path (NUL-terminated into path, which has
   GLBRIDGE_MAX_OBJECT_PATH + 1 bytes) and the resource record after them;
   0 on success, -1 when malformed, -2 out of memory. */
int glb_parse_open_duplicate_reply(const unsigned char *p, uint32_t len, uint32_t *mask, char *path,
                                   glbridge_record *rec);
/* QUERY_OBJECT's reply, into *o (strings NUL-terminated; a NUL inside is
   malformed). */
int glb_parse_object_info(const unsigned char *p, uint32_t len, glbridge_object_info *o);
/* The fence value reply (24 bytes), and OPEN_FENCE's fence record (sync
   kind 0 or 2, SERVICE only with 2, rights read/write bits and not 0,
   the path NUL-free). */
int glb_parse_fence_value(const unsigned char *p, uint32_t len, glbridge_fence_value *v);
int glb_parse_fence_record(const unsigned char *p, uint32_t len, glbridge_fence *f);
/* The keyed-mutex record (CREATE_KEYED_MUTEX and OPEN_KEYED_MUTEX
   replies) of exactly len bytes: 0 on success, -1 when malformed, -2 out
   of memory (*m zeroed on failure; free m->data with
   glbridge_keyed_mutex_free). */
int glb_parse_keyed_mutex_record(const unsigned char *p, uint32_t len, glbridge_keyed_mutex *m);

/* fence.c */
/* glb_parse_fence_list_page is glb_parse_list_page for LIST_FENCES: free
   *all with glbridge_list_fences_free(*all, *n) in every case. */
int glb_parse_fence_list_page(const unsigned char *p, uint32_t len, glbridge_fence_entry **all, size_t *n,
                              size_t *cap, uint32_t *next);
/* keyedmutex.c */
/* glb_parse_keyed_mutex_list_page is glb_parse_list_page for LIST_FENCES
   with KEYED_MUTEXES (64-byte entries): free *all with
   glbridge_list_keyed_mutexes_free(*all, *n) in every case. */
int glb_parse_keyed_mutex_list_page(const unsigned char *p, uint32_t len, glbridge_keyed_mutex_entry **all,
                                    size_t *n, size_t *cap, uint32_t *next);
/* glb_parse_names parses nc names of a LIST or LIST_FENCES entry, each
   u16 len then len bytes (at most GLBRIDGE_MAX_NAME_LEN, no NUL), from
   p + *off (avail bytes from p), into names, NUL-terminated and allocated,
   advancing *off and counting them in *name_count as they come: 1, 0 when
   malformed, -1 out of memory (the names so far are then the caller's to
   free). nc is at most GLBRIDGE_MAX_NAMES (the caller checks). */
int glb_parse_names(const unsigned char *p, uint32_t avail, uint32_t *off, uint32_t nc, char **names,
                    uint32_t *name_count);

/* glb_page_parser parses one page of a LIST or LIST_FENCES reply into the
   growing array its ctx holds, as the glb_parse_*_page functions do:
   0, -1 for a malformed page, -2 when out of memory. */
typedef int (*glb_page_parser)(void *ctx, const unsigned char *p, uint32_t len, uint32_t *next);

/* glb_list_pages sends type (GLB_LIST or GLB_LIST_FENCES) with flags, from
   cursor 0 on, until the broker says no page follows, and parses each
   reply with parse; what names the listing in errors. It takes c's lock
   for the whole listing. On an error what was parsed stays in ctx, for
   the caller to free. */
glbridge_status glb_list_pages(glbridge_client *c, uint16_t type, uint32_t flags, glb_page_parser parse, void *ctx,
                               const char *what);

/* glb_parse_list_page parses one LIST reply page of len bytes, appending
   its entries to *all (n used, cap allocated; grown with realloc) and
   storing next_cursor: 0 on success, -1 malformed, -2 out of memory.
   Entries appended stay in *all (partly filled ones too) for the caller
   to free with glbridge_list_free(*all, *n) in every case. */
int glb_parse_list_page(const unsigned char *p, uint32_t len, uint32_t flags,
                        glbridge_list_entry **all, size_t *n, size_t *cap, uint32_t *next);

/* held.c: what a reconnecting client keeps (all with the client locked). */
void glb_table_free(glb_table *t);
glb_held *glb_held_find(glb_table *t, uint32_t handle);
void glb_held_drop(glb_table *t, glb_held *hr);
void glb_track_create(glbridge_client *c, uint32_t kmt, const glbridge_allocation *a,
                      uint32_t sync_count, const uint32_t *kinds, int memory_fd,
                      const int *sync_fds, const void *data, uint32_t data_len);
/* glb_track_record: an ALLOCATE, OPEN_KMT, OPEN_NAME or OPEN_DUPLICATE
   reply; for the last two, name (name_len bytes: the name opened by, or
   the duplicate's object path, maybe empty) is the new NT handle's
   object and nt_access the access its claim restores (the rights
   granted, or the duplicate's mask). */
void glb_track_record(glbridge_client *c, uint16_t type, const glbridge_record *rec,
                      const glbridge_fds *fds, const char *name, size_t name_len, uint32_t nt_access);
void glb_track_share(glbridge_client *c, uint32_t handle, uint32_t access, uint32_t nt,
                     const char *name, size_t name_len);
void glb_track_close(glbridge_client *c, uint32_t handle);
void glb_track_update(glbridge_client *c, uint32_t handle, const void *data, uint32_t len);
void glb_track_attach(glbridge_client *c, uint32_t handle, uint32_t kind, int fd);
void glb_track_acquire(glbridge_client *c, uint32_t handle, uint64_t key, uint64_t value,
                       uint32_t events, int abandoned);
/* Fences: a CREATE_FENCE (sem_fd -1 for none; for a service fence the
   reply's semaphore fd and the device's UUIDs, else uuids NULL), an
   OPEN_FENCE reply (name the name opened by, NULL for another way), and
   a fence value reply through handle. */
void glb_track_create_fence(glbridge_client *c, uint32_t kmt, uint64_t initial, int sem_fd,
                            const uint8_t *driver_uuid, const uint8_t *device_uuid);
/* Keyed-mutex objects: a CREATE_KEYED_MUTEX (creator) or
   OPEN_KEYED_MUTEX reply, one more reference through m->kmt. */
void glb_track_keyed_mutex(glbridge_client *c, const glbridge_keyed_mutex *m, int creator);
void glb_track_open_fence(glbridge_client *c, const glbridge_fence *f, int sem_fd, const char *name,
                          size_t name_len);
void glb_track_fence_value(glbridge_client *c, uint32_t handle, const glbridge_fence_value *v);
void glb_track_release(glbridge_client *c, uint32_t handle, uint64_t key, uint64_t value);
/* glb_settle answers a CLOSE or RELEASE_SYNC whose reply never came (the
   connection was lost) as the broker would have, from what is held. */
glbridge_status glb_settle(glbridge_client *c, uint16_t type, uint32_t handle);
/* glb_restore_rank orders the restores: resources (0), then fences (1),
   then keyed-mutex objects (2), whose resource and sync object are back
   before them. glb_restore_chunks: how many RESTOREs (RESTORE_FENCEs for
   a fence, RESTORE_KEYED_MUTEXes for a keyed mutex: glb_restore_type)
   bring hr back. glb_restore_encode writes the payload
   of number chunk at p (room for cap bytes) and returns its length, or 0
   if it does not fit; *name_n is how many of hr->names it claims (the
   first ones: bit i of the reply's refused mask is hr->names[i]; every
   chunk claims them all, so that its NT claims can name their objects),
   *held_claim whether it claims the mutex hold. */
int glb_restore_rank(const glb_held *hr);
uint16_t glb_restore_type(const glb_held *hr);
uint32_t glb_restore_chunks(const glb_held *hr);
uint32_t glb_restore_encode(glb_held *hr, uint32_t chunk, unsigned char *p, size_t cap,
                            uint32_t *name_n, int *held_claim);
/* glb_restore_refused applies a RESTORE reply's refused mask. */
void glb_restore_refused(glb_held *hr, uint32_t name_n, int held_claim, uint32_t mask);

#endif
