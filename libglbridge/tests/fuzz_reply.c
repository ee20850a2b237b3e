/*
 * fuzz_reply: libFuzzer target for everything libglbridge decodes from
 * the broker. Built by `make fuzz` with clang -fsanitize=fuzzer,address,
 * undefined; seeds (valid replies of each kind) by fuzz_seeds.
 *
 * Input: a mode byte, then bytes.
 *   mode & 15, 0..9: a real request function of a client on a socketpair
 *     whose peer has queued the replies: the bytes after the mode are up
 *     to 4 messages, each a little-endian u16 length and that many bytes.
 *     (mode >> 4) & 3 fds (dups of a memfd) travel with the first one;
 *     with bit 6 of mode each message's header is made well-formed for
 *     its request (magic, version 2, reply type, id, payload_len,
 *     num_fds) keeping its status, so that the payload decoders are
 *     reached more often. With bit 7 the client reconnects (to a path
 *     where nothing listens, with no wait): what it keeps of a reply
 *     is tracked, and the RESTOREs of everything it holds are encoded
 *     and checked. After the call every fd it did not hand out must be
 *     closed (checked: the lowest free fd is as before).
 *   mode & 15, 10..15: one decoder on the bytes after the mode: the
 *     version-2 resource record, a LIST page (flags 0, then sync state),
 *     the ACQUIRE_SYNC reply, the RESTORE reply, the message header.
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

static const uint16_t request_type[10] = {
    GLB_OPEN_KMT, GLB_OPEN_NAME, GLB_QUERY, GLB_ALLOCATE, GLB_LIST,
    GLB_LIST, GLB_ACQUIRE_SYNC, GLB_CREATE, GLB_SHARE, GLB_CLOSE,
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

static void client_mode(unsigned mode, const uint8_t *p, size_t n)
{
    static unsigned char msg[GLBRIDGE_MAX_MESSAGE_SIZE];
    unsigned kind = mode & 15, nfds = (mode >> 4) & 3, fix = (mode >> 6) & 1, k;
    int sv[2], lo = lowest_free_fd();
    glbridge_client *c;
    glbridge_record rec;
    glbridge_fds fds;
    glbridge_list_entry *le = NULL;
    size_t ln = 0;
    uint32_t u = 0;
    uint64_t v;
    int ab;

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
            glb_put_header(msg, (uint16_t)(request_type[kind] | GLB_REPLY_BIT), k + 1,
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
    if (mode & 0x80) {
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
    default:
        (void)glbridge_close(c, 0x40000042u);
        break;
    }
    if (c->reconnect) {
        size_t i;
        for (i = 0; i < c->held.count; i++) {
            glb_held *hr = c->held.res[i];
            uint32_t ch, chunks = glb_restore_chunks(hr), names;
            int held;
            for (ch = 0; ch < chunks; ch++) {
                uint32_t len = glb_restore_encode(hr, ch, msg, GLBRIDGE_MAX_MESSAGE_SIZE - GLB_HEADER_SIZE,
                                                  &names, &held);
                if (len < GLB_RESTORE_FIXED || glb_get32(msg) != hr->kmt || glb_get32(msg + 20) != hr->sync_count ||
                    glb_get32(msg + 24) != hr->data_len || (hr->fds_ok && hr->nfds != 1 + hr->sync_count))
                    abort();
                glb_restore_refused(hr, names, held, glb_get32(msg + 4) * 0x9E3779B1u);
            }
        }
    }
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned mode;
    const uint8_t *p;
    uint32_t n;

    if (memfd < 0) {
        memfd = memfd_create("fuzz_reply", MFD_CLOEXEC);
        if (memfd < 0 || ftruncate(memfd, 4096) != 0)
            abort();
    }
    if (size < 1 || size > GLBRIDGE_MAX_MESSAGE_SIZE)
        return 0;
    mode = data[0];
    p = data + 1;
    n = (uint32_t)(size - 1);
    switch (mode & 15) {
    case 10: {
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
    case 11:
    case 12: {
        glbridge_list_entry *all = NULL;
        size_t cnt = 0, cap = 0, i;
        uint32_t next;
        if (glb_parse_list_page(p, n, (mode & 15) == 12 ? GLBRIDGE_LIST_SYNC_STATE : 0, &all, &cnt, &cap,
                                &next) == 0)
            for (i = 0; i < cnt; i++)
                if (all[i].name_count > GLBRIDGE_MAX_NAMES || strlen(all[i].device_name) > 255)
                    abort();
        glbridge_list_free(all, cnt);
        break;
    }
    case 13: {
        uint64_t v;
        uint32_t f, e;
        (void)glb_parse_acquire_reply(p, n, &v, &f, &e);
        break;
    }
    case 14: {
        uint32_t kmt, refused;
        (void)glb_parse_restore_reply(p, n, &kmt, &refused);
        break;
    }
    case 15: {
        glb_header h;
        if (glb_parse_header(p, n, &h) == 0 && h.payload_len != n - GLB_HEADER_SIZE)
            abort();
        break;
    }
    default:
        client_mode(mode, p, n);
        break;
    }
    return 0;
}
