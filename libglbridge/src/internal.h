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
    GLB_ALLOCATE = 12
};

struct glbridge_client {
    pthread_mutex_t mu;       /* serialises requests and guards everything below */
    int fd;                   /* the socket; -1 once broken */
    glbridge_status broken;   /* why fd is -1 (GLBRIDGE_E_CLOSED, ...), OK while usable */
    uint32_t next_id;
    unsigned char *buf;       /* GLBRIDGE_MAX_MESSAGE_SIZE bytes: requests and replies */
    char last_error[GLB_MAX_ERROR_TEXT + 64];
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
glbridge_status glb_roundtrip(glbridge_client *c, uint16_t type, uint32_t payload_len,
                              const int *fds, unsigned nfds, unsigned max_fds, glb_reply *r);
void glb_close_fds(glb_reply *r);
glbridge_status glb_fail(glbridge_client *c, glbridge_status st, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
glbridge_status glb_protocol(glbridge_client *c, glb_reply *r, const char *what);

/* record.c */
void glb_parse_desc(const unsigned char *p, glbridge_desc *d);
void glb_put_desc(unsigned char *p, const glbridge_desc *d);
void glb_parse_allocation(const unsigned char *p, glbridge_allocation *a);
void glb_put_allocation(unsigned char *p, const glbridge_allocation *a);
/* glb_parse_record parses a whole version-2 record of exactly len bytes;
   0 on success, -1 when malformed, -2 out of memory. */
int glb_parse_record(const unsigned char *p, uint32_t len, glbridge_record *rec);

#endif
