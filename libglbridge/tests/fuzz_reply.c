/*
 * fuzz_reply: libFuzzer target for everything libglbridge decodes from
 * the broker. Built by `make fuzz` with clang -fsanitize=fuzzer,address,
 * undefined; seeds (valid replies of each kind) by fuzz_seeds.
 *
 * Input: a kind byte, then bytes.
 *   kind < 0x80: a real request function (or a short sequence of them,
 *     kinds 21, 22 and 29 to 31) of a client on a socketpair whose peer has queued
 *     the replies (client kind: kind % CLIENT_KINDS). The next byte is
 *     flags; the bytes after it are up to 4 messages, each a
 *     little-endian u16 length and that many bytes. flags & 3 fds (dups
 *     of a memfd) travel with the first one; with flag 4 each message's
 *     header is made well-formed for the request it answers (magic,
 *     version 2, reply type, id, payload_len, num_fds) keeping its
 *     status, so that the payload decoders are reached more often. With
 *     flag 8 the client reconnects (to a path where nothing listens,
 *     with no wait): what it keeps of a reply is tracked, and the
 *     RESTOREs (RESTORE_FENCEs, RESTORE_KEYED_MUTEXes) of everything it
 *     holds are encoded and checked. After the call every fd it did not hand out must be
 *     closed (checked: the lowest free fd is as before).
 *   kind >= 0x80: one decoder (decoder (kind - 0x80) % DECODER_KINDS) on
 *     the bytes after the kind: the version-2 resource record, a LIST
 *     page (flags 0, then sync state), the ACQUIRE_SYNC reply, the
 *     RESTORE reply, the message header, the DUPLICATE, OPEN_DUPLICATE
 *     and QUERY_OBJECT replies, the fence value, the fence record, a
 *     LIST_FENCES page, the keyed-mutex record, a LIST_FENCES page with
 *     KEYED_MUTEXES.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;

static int lowest_free_fd(void)
{
    int fd = fcntl(0, F_DUPFD, 0);
    if (fd >= 0)
        close(fd);
    return fd;
}

static glbridge_client *client_on(int fd)
{
    glbridge_client *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->buf = malloc(GLBRIDGE_MAX_MESSAGE_SIZE);
    if (!c->buf || pthread_mutex_init(&c->mu, NULL) != 0)
        abort();
    c->fd = fd;
    c->next_id = 1;
    snprintf(c->path, sizeof c->path, "/nonexistent");
    return c;
}

#define CLIENT_KINDS 32
#define DECODER_KINDS 14

/* The request each of a client kind's (up to 4) replies answers. */
static const uint16_t request_type[CLIENT_KINDS][4] = {
    {GLB_OPEN_KMT, GLB_OPEN_KMT, GLB_OPEN_KMT, GLB_OPEN_KMT},
    {GLB_OPEN_NAME, GLB_OPEN_NAME, GLB_OPEN_NAME, GLB_OPEN_NAME},
    {GLB_QUERY, GLB_QUERY, GLB_QUERY, GLB_QUERY},
    {GLB_ALLOCATE, GLB_ALLOCATE, GLB_ALLOCATE, GLB_ALLOCATE},
    {GLB_LIST, GLB_LIST, GLB_LIST, GLB_LIST},
    {GLB_LIST, GLB_LIST, GLB_LIST, GLB_LIST},
    {GLB_ACQUIRE_SYNC, GLB_ACQUIRE_SYNC, GLB_ACQUIRE_SYNC, GLB_ACQUIRE_SYNC},
    {GLB_CREATE, GLB_CREATE, GLB_CREATE, GLB_CREATE},
    {GLB_SHARE, GLB_SHARE, GLB_SHARE, GLB_SHARE},
    {GLB_CLOSE, GLB_CLOSE, GLB_CLOSE, GLB_CLOSE},
    {GLB_DUPLICATE, GLB_DUPLICATE, GLB_DUPLICATE, GLB_DUPLICATE},
    {GLB_OPEN_DUPLICATE, GLB_OPEN_DUPLICATE, GLB_OPEN_DUPLICATE, GLB_OPEN_DUPLICATE},
    {GLB_QUERY_OBJECT, GLB_QUERY_OBJECT, GLB_QUERY_OBJECT, GLB_QUERY_OBJECT},
    {GLB_CREATE_FENCE, GLB_CREATE_FENCE, GLB_CREATE_FENCE, GLB_CREATE_FENCE},
    {GLB_OPEN_FENCE, GLB_OPEN_FENCE, GLB_OPEN_FENCE, GLB_OPEN_FENCE},
    {GLB_OPEN_FENCE, GLB_OPEN_FENCE, GLB_OPEN_FENCE, GLB_OPEN_FENCE},
    {GLB_OPEN_FENCE, GLB_OPEN_FENCE, GLB_OPEN_FENCE, GLB_OPEN_FENCE},
    {GLB_SIGNAL_FENCE, GLB_SIGNAL_FENCE, GLB_SIGNAL_FENCE, GLB_SIGNAL_FENCE},
    {GLB_WAIT_FENCE, GLB_WAIT_FENCE, GLB_WAIT_FENCE, GLB_WAIT_FENCE},
    {GLB_GET_FENCE, GLB_GET_FENCE, GLB_GET_FENCE, GLB_GET_FENCE},
    {GLB_LIST_FENCES, GLB_LIST_FENCES, GLB_LIST_FENCES, GLB_LIST_FENCES},
    /* 21: a fence's session; 22: a duplicate's. */
    {GLB_OPEN_FENCE, GLB_SIGNAL_FENCE, GLB_WAIT_FENCE, GLB_SHARE},
    {GLB_OPEN_DUPLICATE, GLB_SHARE, GLB_DUPLICATE, GLB_QUERY_OBJECT},
    {GLB_CREATE_KEYED_MUTEX, GLB_CREATE_KEYED_MUTEX, GLB_CREATE_KEYED_MUTEX, GLB_CREATE_KEYED_MUTEX},
    {GLB_OPEN_KEYED_MUTEX, GLB_OPEN_KEYED_MUTEX, GLB_OPEN_KEYED_MUTEX, GLB_OPEN_KEYED_MUTEX},
    {GLB_LIST_FENCES, GLB_LIST_FENCES, GLB_LIST_FENCES, GLB_LIST_FENCES}, /* KEYED_MUTEXES */
    {GLB_SET_SESSION, GLB_SET_SESSION, GLB_SET_SESSION, GLB_SET_SESSION},
    {GLB_CREATE_FENCE, GLB_CREATE_FENCE, GLB_CREATE_FENCE, GLB_CREATE_FENCE}, /* SERVICE */
    {GLB_SIGNAL_FENCE, GLB_SIGNAL_FENCE, GLB_SIGNAL_FENCE, GLB_SIGNAL_FENCE}, /* HOST */
    /* 29: a keyed mutex's session; 30: a service fence's; 31: names'. */
    {GLB_CREATE_KEYED_MUTEX, GLB_ACQUIRE_SYNC, GLB_RELEASE_SYNC, GLB_ACQUIRE_SYNC},
    {GLB_CREATE_FENCE, GLB_SIGNAL_FENCE, GLB_SHARE, GLB_CLOSE},
    {GLB_OPEN_NAME, GLB_SHARE, GLB_CLOSE, GLB_SET_SESSION},
};

static void send_reply(int peer, unsigned char *m, size_t len, unsigned nfds)
{
    union {
        struct cmsghdr h;
        unsigned char b[CMSG_SPACE(sizeof(int) * 3)];
    } ctl;
    struct msghdr mh;
    struct iovec iov;
    int fds[3];
    unsigned i;

    memset(&mh, 0, sizeof mh);
    memset(&ctl, 0, sizeof ctl);
    iov.iov_base = m;
    iov.iov_len = len;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (nfds) {
        for (i = 0; i < nfds; i++)
            fds[i] = memfd;
        mh.msg_control = ctl.b;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
        CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
        CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), fds, sizeof(int) * nfds);
    }
    (void)sendmsg(peer, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* check_restores encodes the RESTOREs of everything a reconnecting c
   holds, checks them, and applies a made-up refused mask. */
static void check_restores(glbridge_client *c, unsigned char *msg)
{
    size_t i;
    for (i = 0; i < c->held.count; i++) {
        glb_held *hr = c->held.res[i];
        uint32_t ch, chunks = glb_restore_chunks(hr), names;
        int held;
        for (ch = 0; ch < chunks; ch++) {
            uint32_t len = glb_restore_encode(hr, ch, msg, GLBRIDGE_MAX_MESSAGE_SIZE - GLB_HEADER_SIZE,
                                              &names, &held);
            uint32_t flags = glb_get32(msg + 4);
            if (hr->keyed_mutex) {
                /* RESTORE_KEYED_MUTEX: its KMT references, handles and data,
                   no fd, only its flags; the hold only through its KMT. */
                if (len != GLB_RESTORE_KEYED_MUTEX_FIXED + hr->data_len || glb_get32(msg) != hr->kmt ||
                    glb_get32(msg + 8) != hr->kmt_refs || hr->kmt_refs == 0 || glb_get32(msg + 12) != hr->mutex_of ||
                    glb_get32(msg + 16) != hr->mutex_sync || glb_get32(msg + 20) != hr->data_len || hr->nfds != 0 ||
                    hr->nt_count != 0 ||
                    (flags & ~(GLB_RESTORE_CREATOR | GLB_RESTORE_MUTEX_HELD | GLB_RESTORE_MUTEX_RELEASED |
                               GLB_RESTORE_MUTEX_ABANDONED)) ||
                    !(flags & GLB_RESTORE_MUTEX_ABANDONED) != !hr->mutex.abandoned ||
                    !(flags & GLB_RESTORE_MUTEX_HELD) != !held || (held && hr->mutex.via != hr->kmt))
                    abort();
            } else if (hr->fence ? len < GLB_RESTORE_FENCE_FIXED + (hr->service ? 32u : 0u) ||
                                       glb_get32(msg) != hr->kmt || hr->sync_count > 1 ||
                                       glb_get32(msg + 20) != (hr->sync_count ? GLBRIDGE_SYNC_TIMELINE : 0) ||
                                       glb_get64(msg + 32) != hr->fence_value.signals ||
                                       (hr->fds_ok && hr->nfds != hr->sync_count) ||
                                       !(flags & GLB_RESTORE_FENCE_SERVICE) != !hr->service ||
                                       (hr->service && hr->sync_count != 1) ||
                                       (flags & ~(GLB_RESTORE_CREATOR | GLB_RESTORE_FENCE_SERVICE))
                                 : len < GLB_RESTORE_FIXED || glb_get32(msg) != hr->kmt ||
                                       glb_get32(msg + 20) != hr->sync_count || glb_get32(msg + 24) != hr->data_len ||
                                       (hr->fds_ok && hr->nfds != 1 + hr->sync_count) ||
                                       !(flags & GLB_RESTORE_MUTEX_ABANDONED) != !hr->mutex.abandoned) {
                abort();
            }
            glb_restore_refused(hr, names, held, flags * 0x9E3779B1u);
        }
    }
}

/* name_claim copies the name of handle h's claim (of the resource or
   fence kmt) into out: its length, 0 when unnamed or not tracked. */
static size_t name_claim(glbridge_client *c, uint32_t kmt, uint32_t h, char *out)
{
    glb_held *hr = glb_held_find(&c->held, kmt);
    size_t i;
    if (!hr)
        return 0;
    for (i = 0; i < hr->nt_count; i++)
        if (hr->nt[i].handle == h && hr->nt[i].name && hr->nt[i].name <= hr->name_count) {
            memcpy(out, hr->names[hr->nt[i].name - 1].name, hr->names[hr->nt[i].name - 1].len);
            return hr->names[hr->nt[i].name - 1].len;
        }
    return 0;
}

/* check_name_dropped: after the close of the last NT handle to its
   object (name, n bytes), the resource or fence kmt claims it no more. */
static void check_name_dropped(glbridge_client *c, uint32_t kmt, const char *name, size_t n)
{
    glb_held *hr = glb_held_find(&c->held, kmt);
    size_t i, k;
    if (!hr || n == 0)
        return;
    for (i = 0; i < hr->name_count; i++)
        if (hr->names[i].len == n && memcmp(hr->names[i].name, name, n) == 0) {
            for (k = 0; k < hr->nt_count; k++)
                if (hr->nt[k].name == i + 1)
                    return; /* another handle to the object: it stays */
            abort();
        }
}

static void client_mode(unsigned kind, unsigned flags, const uint8_t *p, size_t n)
{
    static unsigned char msg[GLBRIDGE_MAX_MESSAGE_SIZE];
    unsigned nfds = flags & 3, fix = (flags >> 2) & 1, k;
    int sv[2], lo = lowest_free_fd();
    glbridge_client *c;
    glbridge_record rec;
    glbridge_fds fds;
    glbridge_list_entry *le = NULL;
    glbridge_fence_entry *fe = NULL;
    glbridge_fence f;
    glbridge_fence_value fv;
    glbridge_object_info oi;
    glbridge_keyed_mutex km;
    glbridge_keyed_mutex_entry *ke = NULL;
    size_t ln = 0, nl;
    uint32_t u = 0, k2 = 0;
    uint64_t v;
    int ab, sem;
    char nm[GLBRIDGE_MAX_NAME_LEN + 1];
    static const uint8_t uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return;
    for (k = 0; k < 4 && n >= 2; k++) {
        size_t len = (size_t)p[0] | (size_t)p[1] << 8;
        p += 2;
        n -= 2;
        if (len > n)
            len = n;
        memcpy(msg, p, len);
        if (fix && len >= GLB_HEADER_SIZE) {
            uint32_t status = glb_get32(msg + 20);
            glb_put_header(msg, (uint16_t)(request_type[kind][k] | GLB_REPLY_BIT), k + 1,
                           (uint32_t)(len - GLB_HEADER_SIZE), (uint16_t)(k == 0 ? nfds : 0));
            glb_put32(msg + 20, status);
        }
        send_reply(sv[1], msg, len, k == 0 ? nfds : 0);
        p += len;
        n -= len;
    }
    /* The client can still send; once the queued replies are read it
       sees the end of the connection. */
    shutdown(sv[1], SHUT_WR);
    c = client_on(sv[0]);
    if (flags & 8) {
        c->reconnect = 1;
        c->call_wait_ms = 0; /* one dial, which fails: no wait */
        c->max_backoff_ms = 1;
    }
    switch (kind) {
    case 0:
        if (glbridge_open_kmt(c, 0x40000042u, &rec, &fds) == GLBRIDGE_OK) {
            glbridge_fds_close(&fds);
            glbridge_record_free(&rec);
        }
        break;
    case 1:
        if (glbridge_open_name(c, "fuzz", GLBRIDGE_ACCESS_READ, &rec, &fds) == GLBRIDGE_OK) {
            glbridge_fds_close(&fds);
            glbridge_record_free(&rec);
        }
        break;
    case 2:
        if (glbridge_query(c, 0x40000042u, &rec) == GLBRIDGE_OK)
            glbridge_record_free(&rec);
        break;
    case 3: {
        glbridge_allocate_params prm;
        memset(&prm, 0, sizeof prm);
        prm.flags = GLBRIDGE_ALLOCATE_HOST_MEMORY;
        if (glbridge_allocate(c, &prm, &rec, &fds) == GLBRIDGE_OK) {
            glbridge_fds_close(&fds);
            glbridge_record_free(&rec);
        }
        break;
    }
    case 4:
    case 5:
        if (glbridge_list(c, kind == 5 ? GLBRIDGE_LIST_SYNC_STATE : 0, &le, &ln) == GLBRIDGE_OK)
            glbridge_list_free(le, ln);
        break;
    case 6:
        (void)glbridge_acquire_sync(c, 0x40000042u, 1, 0, &v, &ab);
        break;
    case 7: {
        glbridge_allocation a;
        memset(&a, 0, sizeof a);
        (void)glbridge_create(c, memfd, &a, 0, NULL, NULL, "d", 1, &u);
        break;
    }
    case 8:
        (void)glbridge_share(c, 0x40000042u, GLBRIDGE_ACCESS_READ, "fuzz", &u, NULL);
        break;
    case 9:
        (void)glbridge_close(c, 0x40000042u);
        break;
    case 10:
        (void)glbridge_duplicate(c, 0x10, GLBRIDGE_ACCESS_READ, GLBRIDGE_DUPLICATE_CLOSE_SOURCE, 0, &v, &u, NULL);
        break;
    case 11:
        if (glbridge_open_duplicate(c, 0x1234, &rec, &fds) == GLBRIDGE_OK) {
            glbridge_fds_close(&fds);
            glbridge_record_free(&rec);
        }
        break;
    case 12:
        (void)glbridge_query_object(c, 0x10, &oi);
        break;
    case 13:
        (void)glbridge_create_fence(c, 7, memfd, &u);
        break;
    case 14:
    case 15:
    case 16:
        if ((kind == 14   ? glbridge_open_fence_kmt(c, 0x40000042u, &f, &sem)
             : kind == 15 ? glbridge_open_fence_name(c, "fuzz", GLBRIDGE_ACCESS_READ, &f, &sem)
                          : glbridge_open_fence_duplicate(c, 0x1234, &f, &sem)) == GLBRIDGE_OK &&
            sem >= 0)
            close(sem);
        break;
    case 17:
        (void)glbridge_signal_fence(c, 0x40000042u, 3, &fv);
        break;
    case 18:
        (void)glbridge_wait_fence(c, 0x40000042u, 3, 0, &fv);
        break;
    case 19:
        (void)glbridge_get_fence(c, 0x40000042u, &fv);
        break;
    case 20:
        if (glbridge_list_fences(c, &fe, &ln) == GLBRIDGE_OK)
            glbridge_list_fences_free(fe, ln);
        break;
    case 21:
        /* A fence's session: what a reconnecting client keeps of it. */
        if (glbridge_open_fence_name(c, "fuzz", GLBRIDGE_ACCESS_READ, &f, &sem) == GLBRIDGE_OK) {
            if (sem >= 0)
                close(sem);
            (void)glbridge_signal_fence(c, f.handle, 9, &fv);
            (void)glbridge_wait_fence(c, f.handle, 9, 0, &fv);
            (void)glbridge_share(c, f.handle, GLBRIDGE_ACCESS_READ, "fuzz fence", &u, NULL);
        }
        break;
    case 22:
        /* A duplicate's session. */
        if (glbridge_open_duplicate(c, 0x1234, &rec, &fds) == GLBRIDGE_OK) {
            glbridge_fds_close(&fds);
            (void)glbridge_share(c, rec.handle, GLBRIDGE_ACCESS_READ, "fuzz", &u, NULL);
            (void)glbridge_duplicate(c, rec.handle, 0, GLBRIDGE_DUPLICATE_SAME_ACCESS | GLBRIDGE_DUPLICATE_CLOSE_SOURCE,
                                     0, &v, NULL, NULL);
            (void)glbridge_query_object(c, rec.handle, &oi);
            glbridge_record_free(&rec);
        }
        break;
    case 23:
        if (glbridge_create_keyed_mutex(c, 0x40000042u, 0x40000082u, "d", 1, &km) == GLBRIDGE_OK) {
            if (km.data_len && !km.data)
                abort();
            glbridge_keyed_mutex_free(&km);
        }
        break;
    case 24:
        if (glbridge_open_keyed_mutex(c, 0x400000C2u, &km) == GLBRIDGE_OK)
            glbridge_keyed_mutex_free(&km);
        break;
    case 25:
        if (glbridge_list_keyed_mutexes(c, &ke, &ln) == GLBRIDGE_OK)
            glbridge_list_keyed_mutexes_free(ke, ln);
        break;
    case 26:
        (void)glbridge_set_session(c, 2);
        break;
    case 27:
        if (glbridge_create_fence_service(c, 3, uuid, uuid, &u, &sem) == GLBRIDGE_OK)
            close(sem);
        break;
    case 28:
        (void)glbridge_host_signal_fence(c, 0x40000042u, 3, &fv);
        break;
    case 29:
        /* A keyed mutex's session: what a reconnecting client keeps of
           its hold (abandoned or not) and release. */
        if (glbridge_create_keyed_mutex(c, 0x40000042u, 0, NULL, 0, &km) == GLBRIDGE_OK) {
            (void)glbridge_acquire_sync(c, km.kmt, 0, 0, &v, &ab);
            (void)glbridge_release_sync(c, km.kmt, 1, 2);
            (void)glbridge_acquire_sync(c, km.kmt, 1, 0, &v, &ab);
            glbridge_keyed_mutex_free(&km);
        }
        break;
    case 30:
        /* A service fence's session: signalled by the broker, shared by
           name, the name's only handle closed. */
        if (glbridge_create_fence_service(c, 3, uuid, uuid, &u, &sem) == GLBRIDGE_OK) {
            close(sem);
            (void)glbridge_host_signal_fence(c, u, 9, &fv);
            if (glbridge_share(c, u, GLBRIDGE_ACCESS_READ, "fuzz fence", &k2, NULL) == GLBRIDGE_OK) {
                nl = name_claim(c, u, k2, nm);
                if (glbridge_close(c, k2) == GLBRIDGE_OK)
                    check_name_dropped(c, u, nm, nl);
            }
        }
        break;
    default:
        /* Names: opened by one name, shared by another, the first one's
           only handle closed; then a session (which a broker refuses
           to a connection that holds something). */
        if (glbridge_open_name(c, "fuzz", GLBRIDGE_ACCESS_READ, &rec, &fds) == GLBRIDGE_OK) {
            glbridge_fds_close(&fds);
            (void)glbridge_share(c, rec.handle, GLBRIDGE_ACCESS_READ, "fuzz 2", &u, NULL);
            nl = name_claim(c, rec.kmt, rec.handle, nm);
            if (glbridge_close(c, rec.handle) == GLBRIDGE_OK)
                check_name_dropped(c, rec.kmt, nm, nl);
            glbridge_record_free(&rec);
            (void)glbridge_set_session(c, 3);
        }
        break;
    }
    if (c->reconnect)
        check_restores(c, msg);
#ifdef FUZZ_DEBUG
    fprintf(stderr, "kind %u: last error \"%s\", held %lu\n", kind, c->last_error, (unsigned long)c->held.count);
#endif
    glbridge_client_close(c); /* closes sv[0] */
    close(sv[1]);
    if (lowest_free_fd() != lo) {
        fprintf(stderr, "fuzz_reply: an fd leaked (lowest free fd %d, was %d)\n", lowest_free_fd(), lo);
        abort();
    }
}

/* decoder runs one decoder on p (n bytes) and checks what it made. */
static void decoder(unsigned kind, const uint8_t *p, uint32_t n)
{
    switch (kind) {
    case 0: {
        glbridge_record rec;
        if (glb_parse_record(p, n, &rec) == 0) {
            if (rec.data_len && !rec.data)
                abort();
            if (rec.sync_count > GLBRIDGE_MAX_SYNC_OBJECTS || rec.gl.level_count > GLBRIDGE_MAX_LEVELS)
                abort();
            glbridge_record_free(&rec);
        }
        break;
    }
    case 1:
    case 2: {
        glbridge_list_entry *all = NULL;
        size_t cnt = 0, cap = 0, i;
        uint32_t next;
        if (glb_parse_list_page(p, n, kind == 2 ? GLBRIDGE_LIST_SYNC_STATE : 0, &all, &cnt, &cap, &next) == 0)
            for (i = 0; i < cnt; i++)
                if (all[i].name_count > GLBRIDGE_MAX_NAMES || strlen(all[i].device_name) > 255)
                    abort();
        glbridge_list_free(all, cnt);
        break;
    }
    case 3: {
        uint64_t v;
        uint32_t f, e;
        (void)glb_parse_acquire_reply(p, n, &v, &f, &e);
        break;
    }
    case 4: {
        uint32_t kmt, refused;
        (void)glb_parse_restore_reply(p, n, &kmt, &refused);
        break;
    }
    case 5: {
        glb_header h;
        if (glb_parse_header(p, n, &h) == 0 && h.payload_len != n - GLB_HEADER_SIZE)
            abort();
        break;
    }
    case 6: {
        uint64_t token;
        uint32_t access, mask;
        if (glb_parse_duplicate_reply(p, n, &token, &access, &mask) == 0 && (token == 0 || access == 0))
            abort();
        break;
    }
    case 7: {
        char path[GLBRIDGE_MAX_OBJECT_PATH + 1];
        glbridge_record rec;
        uint32_t mask;
        int e = glb_parse_open_duplicate_reply(p, n, &mask, path, &rec);
        if (e == 0) {
            if (strlen(path) > GLBRIDGE_MAX_OBJECT_PATH || (rec.data_len && !rec.data))
                abort();
            glbridge_record_free(&rec);
        } else if (rec.data) {
            abort();
        }
        break;
    }
    case 8: {
        glbridge_object_info o;
        if (glb_parse_object_info(p, n, &o) == 0 &&
            (strlen(o.type) > GLBRIDGE_MAX_NAME_LEN || strlen(o.name) > GLBRIDGE_MAX_OBJECT_PATH))
            abort();
        break;
    }
    case 9: {
        glbridge_fence_value v;
        (void)glb_parse_fence_value(p, n, &v);
        break;
    }
    case 10: {
        glbridge_fence f;
        if (glb_parse_fence_record(p, n, &f) == 0 &&
            ((f.sync_kind != GLBRIDGE_SYNC_NONE && f.sync_kind != GLBRIDGE_SYNC_TIMELINE) ||
             strlen(f.name) > GLBRIDGE_MAX_OBJECT_PATH))
            abort();
        break;
    }
    case 11: {
        glbridge_fence_entry *all = NULL;
        size_t cnt = 0, cap = 0, i;
        uint32_t next;
        if (glb_parse_fence_list_page(p, n, &all, &cnt, &cap, &next) == 0)
            for (i = 0; i < cnt; i++)
                if (all[i].name_count > GLBRIDGE_MAX_NAMES ||
                    ((all[i].flags & GLBRIDGE_FENCE_SERVICE) && !(all[i].flags & GLBRIDGE_FENCE_TIMELINE)))
                    abort();
        glbridge_list_fences_free(all, cnt);
        break;
    }
    case 12: {
        glbridge_keyed_mutex m;
        int e = glb_parse_keyed_mutex_record(p, n, &m);
        if (e == 0) {
            if (m.data_len > GLBRIDGE_MAX_PRIVATE_DATA || (m.data_len != 0) != (m.data != NULL) ||
                GLB_KEYED_MUTEX_RECORD_FIXED + m.data_len != n)
                abort();
            glbridge_keyed_mutex_free(&m);
        } else if (m.data || m.kmt) {
            abort();
        }
        break;
    }
    default: {
        glbridge_keyed_mutex_entry *all = NULL;
        size_t cnt = 0, cap = 0, i;
        uint32_t next;
        if (glb_parse_keyed_mutex_list_page(p, n, &all, &cnt, &cap, &next) == 0) {
            if (8u + GLB_KEYED_MUTEX_ENTRY_SIZE * cnt != n)
                abort();
            for (i = 0; i < cnt; i++)
                if (all[i].state > 2 || (all[i].flags & ~GLBRIDGE_KEYED_MUTEX_CREATOR_CONNECTED) ||
                    (all[i].state != 1 && (all[i].holder_pid || all[i].holder_conn)))
                    abort();
        }
        glbridge_list_keyed_mutexes_free(all, cnt);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memfd < 0) {
        memfd = memfd_create("fuzz_reply", MFD_CLOEXEC);
        if (memfd < 0 || ftruncate(memfd, 4096) != 0)
            abort();
    }
    if (size < 1 || size > GLBRIDGE_MAX_MESSAGE_SIZE)
        return 0;
    if (data[0] >= 0x80)
        decoder((data[0] - 0x80u) % DECODER_KINDS, data + 1, (uint32_t)(size - 1));
    else if (size >= 2)
        client_mode(data[0] % CLIENT_KINDS, data[1], data + 2, size - 2);
    return 0;
}
