/* The connection: socket, request/reply round trips, fd passing. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

uint64_t glb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A connection lost this way is dialled again by a reconnecting client;
   a malformed reply or a FATAL message is not (the broker is there, and
   refuses this client). */
static int lost(glbridge_status why) { return why == GLBRIDGE_E_CLOSED || why == GLBRIDGE_E_IO; }

int glb_parse_header(const unsigned char *m, size_t n, glb_header *h)
{
    memset(h, 0, sizeof *h);
    if (n < GLB_HEADER_SIZE)
        return -1;
    if (glb_get32(m) != GLB_MAGIC)
        return -2;
    h->version = glb_get16(m + 4);
    h->type = glb_get16(m + 6);
    h->id = glb_get32(m + 8);
    h->payload_len = glb_get32(m + 12);
    h->num_fds = glb_get16(m + 16);
    h->flags = glb_get16(m + 18);
    h->status = glb_get32(m + 20);
    if (h->payload_len != n - GLB_HEADER_SIZE)
        return -3;
    return 0;
}

void glb_put_header(unsigned char *m, uint16_t type, uint32_t id, uint32_t payload_len, uint16_t nfds)
{
    glb_put32(m + 0, GLB_MAGIC);
    glb_put16(m + 4, GLBRIDGE_PROTOCOL_VERSION);
    glb_put16(m + 6, type);
    glb_put32(m + 8, id);
    glb_put32(m + 12, payload_len);
    glb_put16(m + 16, nfds);
    glb_put16(m + 18, 0);
    glb_put32(m + 20, 0);
}

glbridge_status glb_fail(glbridge_client *c, glbridge_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->last_error, sizeof c->last_error, fmt, ap);
    va_end(ap);
    return st;
}

/* glb_break makes the client unusable: the socket is closed, and every
   later call gets GLBRIDGE_E_CLOSED. */
static void glb_break(glbridge_client *c, glbridge_status why)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->broken = why;
}

void glb_close_fds(glb_reply *r)
{
    unsigned i;
    for (i = 0; i < r->nfds; i++)
        if (r->fds[i] >= 0)
            close(r->fds[i]);
    r->nfds = 0;
}

glbridge_status glb_protocol(glbridge_client *c, glb_reply *r, const char *what)
{
    if (r)
        glb_close_fds(r);
    glb_break(c, GLBRIDGE_E_PROTOCOL);
    return glb_fail(c, GLBRIDGE_E_PROTOCOL, "malformed reply: %s", what);
}

unsigned char *glb_payload(glbridge_client *c) { return c->buf + GLB_HEADER_SIZE; }

glbridge_status glb_lock(glbridge_client *c)
{
    pthread_mutex_lock(&c->mu);
    if (c->fd < 0 && !(c->reconnect && lost(c->broken))) {
        glbridge_status st = glb_fail(c, GLBRIDGE_E_CLOSED, "connection unusable (%s)",
                                      glbridge_strerror(c->broken));
        pthread_mutex_unlock(&c->mu);
        return st;
    }
    return GLBRIDGE_OK;
}

void glb_unlock(glbridge_client *c) { pthread_mutex_unlock(&c->mu); }

/* dial connects a new SOCK_SEQPACKET socket to path: the fd, or -1 with
   errno set (and *no_socket set when socket() itself failed). */
static int dial(const char *path, int *no_socket)
{
    struct sockaddr_un sa;
    int fd, err, e;

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    *no_socket = 0;
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *no_socket = 1;
        return -1;
    }
    while ((err = connect(fd, (struct sockaddr *)&sa, sizeof sa)) < 0 && errno == EINTR)
        ;
    if (err < 0) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

glbridge_status glbridge_connect(const char *path, glbridge_client **out)
{
    return glbridge_connect_opts(path, NULL, out);
}

glbridge_status glbridge_connect_opts(const char *path, const glbridge_connect_options *opts,
                                      glbridge_client **out)
{
    char def[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    glbridge_client *c;
    glbridge_status st;
    int fd, no_socket;

    if (!out)
        return GLBRIDGE_E_ARGUMENT;
    *out = NULL;
    if (!path) {
        st = glbridge_default_socket_path(def, sizeof def);
        if (st != GLBRIDGE_OK)
            return st;
        path = def;
    }
    if (path[0] == '\0' || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return GLBRIDGE_E_ARGUMENT;

    c = calloc(1, sizeof *c);
    if (!c)
        return GLBRIDGE_E_NO_MEMORY;
    c->buf = malloc(GLBRIDGE_MAX_MESSAGE_SIZE);
    if (!c->buf || pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c->buf);
        free(c);
        return GLBRIDGE_E_NO_MEMORY;
    }
    snprintf(c->path, sizeof c->path, "%s", path);
    if (opts && opts->reconnect) {
        c->reconnect = 1;
        c->call_wait_ms = opts->call_wait_ms ? opts->call_wait_ms : GLB_DEFAULT_CALL_WAIT_MS;
        c->max_backoff_ms = opts->max_backoff_ms ? opts->max_backoff_ms : GLB_DEFAULT_MAX_BACKOFF_MS;
    }
    fd = dial(path, &no_socket);
    if (fd < 0) {
        st = no_socket ? GLBRIDGE_E_IO : GLBRIDGE_E_CONNECT;
        pthread_mutex_destroy(&c->mu);
        free(c->buf);
        free(c);
        return st;
    }
    c->fd = fd;
    c->next_id = 1;
    *out = c;
    return GLBRIDGE_OK;
}

void glbridge_client_close(glbridge_client *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    glb_table_free(&c->held);
    pthread_mutex_destroy(&c->mu);
    free(c->buf);
    free(c);
}

glbridge_status glbridge_last_error(glbridge_client *c, char *buf, size_t len)
{
    if (!c || !buf || len == 0)
        return GLBRIDGE_E_ARGUMENT;
    pthread_mutex_lock(&c->mu);
    snprintf(buf, len, "%s", c->last_error);
    pthread_mutex_unlock(&c->mu);
    return GLBRIDGE_OK;
}

glbridge_status glbridge_broker_uid(glbridge_client *c, uint32_t *uid)
{
    struct ucred cred;
    socklen_t l = sizeof cred;
    glbridge_status st;

    if (!c || !uid)
        return GLBRIDGE_E_ARGUMENT;
    st = glb_lock(c);
    if (st != GLBRIDGE_OK)
        return st;
    if (c->fd < 0)
        st = glb_fail(c, GLBRIDGE_E_CLOSED, "the connection is lost (reconnecting on the next request)");
    else if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) < 0)
        st = glb_fail(c, GLBRIDGE_E_IO, "SO_PEERCRED: %s", strerror(errno));
    else
        *uid = (uint32_t)cred.uid;
    glb_unlock(c);
    return st;
}

static glbridge_status glb_io(glbridge_client *c, const char *op, int e)
{
    /* The broker going away shows as EPIPE or ECONNRESET. */
    glbridge_status st = (e == EPIPE || e == ECONNRESET || e == ENOTCONN) ? GLBRIDGE_E_CLOSED
                                                                          : GLBRIDGE_E_IO;
    glb_break(c, st);
    return glb_fail(c, st, "%s: %s", op, strerror(e));
}

/* send_msg sends the message m (len bytes) with fds attached: 0, or an
   errno. */
static int send_msg(int fd, unsigned char *m, size_t len, const int *fds, unsigned nfds)
{
    union {
        struct cmsghdr h;
        unsigned char b[CMSG_SPACE(sizeof(int) * GLBRIDGE_MAX_FDS_PER_MESSAGE)];
    } ctl;
    struct msghdr mh;
    struct iovec iov;
    struct cmsghdr *cm;
    ssize_t n;

    memset(&mh, 0, sizeof mh);
    memset(&ctl, 0, sizeof ctl);
    iov.iov_base = m;
    iov.iov_len = len;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (nfds > 0) {
        mh.msg_control = ctl.b;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
    }
    while ((n = sendmsg(fd, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return errno;
    if ((size_t)n != len)
        return EIO;
    return 0;
}

/* recv_msg receives one message into buf (GLBRIDGE_MAX_MESSAGE_SIZE
   bytes), and every fd that came with it into r (surplus ones closed),
   waiting up to timeout_ms (-1: for ever). Returns its size (0 at the
   end of the connection), or -errno (-ETIMEDOUT when the time passed).
   *mflags gets recvmsg's msg_flags. */
static ssize_t recv_msg(int fd, unsigned char *buf, glb_reply *r, int timeout_ms, int *mflags)
{
    union {
        struct cmsghdr h;
        unsigned char b[CMSG_SPACE(sizeof(int) * GLBRIDGE_MAX_FDS_PER_MESSAGE)];
    } ctl;
    struct msghdr mh;
    struct iovec iov;
    struct cmsghdr *cm;
    ssize_t n;

    memset(r, 0, sizeof *r);
    *mflags = 0;
    if (timeout_ms >= 0) {
        struct pollfd p;
        int k;
        p.fd = fd;
        p.events = POLLIN;
        p.revents = 0;
        while ((k = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
            ;
        if (k < 0)
            return -errno;
        if (k == 0)
            return -ETIMEDOUT;
    }
    memset(&mh, 0, sizeof mh);
    memset(&ctl, 0, sizeof ctl);
    iov.iov_base = buf;
    iov.iov_len = GLBRIDGE_MAX_MESSAGE_SIZE;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.b;
    mh.msg_controllen = sizeof ctl.b;
    while ((n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return -errno;
    /* Take every fd that came first, so that each path closes them. */
    for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        size_t k, cnt;
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
            cm->cmsg_len < CMSG_LEN(0))
            continue;
        cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (k = 0; k < cnt; k++) {
            int f;
            memcpy(&f, CMSG_DATA(cm) + k * sizeof(int), sizeof f);
            if (r->nfds < GLBRIDGE_MAX_FDS_PER_MESSAGE)
                r->fds[r->nfds++] = f;
            else
                close(f);
        }
    }
    *mflags = mh.msg_flags;
    return n;
}

/* fatal handles a FATAL message (header h, text after it): the client
   breaks for good (a reconnecting one does not dial again: the broker is
   there and refuses it). */
static glbridge_status fatal(glbridge_client *c, const glb_header *h, const unsigned char *text)
{
    uint32_t tl = h->payload_len > GLB_MAX_ERROR_TEXT ? GLB_MAX_ERROR_TEXT : h->payload_len;
    glb_break(c, GLBRIDGE_E_FATAL);
    snprintf(c->last_error, sizeof c->last_error, "broker FATAL: %.*s", (int)tl, (const char *)text);
    if (h->status >= 1 && h->status <= GLBRIDGE_E_WRONG_TYPE)
        return (glbridge_status)h->status;
    return GLBRIDGE_E_FATAL;
}

/* glb_roundtrip sends the request whose payload the caller wrote at
   glb_payload(c) with fds attached, and receives its reply. Called with
   the lock held. On GLBRIDGE_OK, r holds the reply's payload (in c->buf,
   valid until the next round trip) and its fds (at most max_fds, owned by
   the caller now). On any error no fd is left open. The payload at
   glb_payload(c) is still intact when the connection was lost (the
   client is then broken with a status lost() accepts), so that the
   request can be sent again. */
static glbridge_status glb_roundtrip(glbridge_client *c, uint16_t type, uint32_t payload_len,
                                     const int *fds, unsigned nfds, unsigned max_fds, glb_reply *r)
{
    unsigned char *h = c->buf;
    glb_header hd;
    uint32_t id;
    ssize_t n;
    int e, mflags;

    memset(r, 0, sizeof *r);
    if (payload_len > GLBRIDGE_MAX_MESSAGE_SIZE - GLB_HEADER_SIZE)
        return glb_fail(c, GLBRIDGE_E_TOO_LARGE, "request of %u bytes is too large",
                        (unsigned)payload_len);
    if (nfds > GLBRIDGE_MAX_FDS_PER_MESSAGE)
        return glb_fail(c, GLBRIDGE_E_ARGUMENT, "too many fds");
    if (c->fd < 0)
        return glb_fail(c, c->broken, "the connection to the broker is lost");

    id = c->next_id++;
    if (id == 0)
        id = c->next_id++;
    glb_put_header(h, type, id, payload_len, (uint16_t)nfds);
    if ((e = send_msg(c->fd, h, GLB_HEADER_SIZE + payload_len, fds, nfds)) != 0)
        return glb_io(c, "sendmsg", e);

    /* The reply. One request is in flight per client, so it is the next
       message (the broker answers every request, ACQUIRE_SYNC included). */
    n = recv_msg(c->fd, c->buf, r, -1, &mflags);
    if (n < 0)
        return glb_io(c, "recvmsg", (int)-n);
    if (n == 0) {
        glb_close_fds(r);
        glb_break(c, GLBRIDGE_E_CLOSED);
        return glb_fail(c, GLBRIDGE_E_CLOSED, "the broker closed the connection");
    }
    if (mflags & MSG_CTRUNC)
        return glb_protocol(c, r, "control data truncated (too many fds)");
    if (mflags & MSG_TRUNC)
        return glb_protocol(c, r, "message larger than 73728 bytes");
    if ((size_t)n < GLB_HEADER_SIZE && c->reconnect) {
        /* A short read: the connection is taken as lost. Only the
           header's bytes were overwritten. */
        glb_close_fds(r);
        glb_break(c, GLBRIDGE_E_CLOSED);
        return glb_fail(c, GLBRIDGE_E_CLOSED, "short read (%ld bytes) from the broker", (long)n);
    }
    switch (glb_parse_header(h, (size_t)n, &hd)) {
    case -1:
        return glb_protocol(c, r, "shorter than the header");
    case -2:
        return glb_protocol(c, r, "bad magic");
    case -3:
        return glb_protocol(c, r, "payload_len differs from the message size");
    }
    if (hd.num_fds != r->nfds)
        return glb_protocol(c, r, "num_fds differs from the fds received");

    if (hd.type == GLB_FATAL_TYPE) {
        glb_close_fds(r);
        return fatal(c, &hd, h + GLB_HEADER_SIZE);
    }
    if (hd.status != 0 && (hd.version == 1 || hd.version == 2) && hd.status == GLBRIDGE_E_BAD_VERSION) {
        /* A version-1-only broker answers in version 1. */
        glb_close_fds(r);
        return glb_fail(c, GLBRIDGE_E_BAD_VERSION, "the broker does not speak protocol version 2");
    }
    if (hd.version != GLBRIDGE_PROTOCOL_VERSION)
        return glb_protocol(c, r, "reply version is not 2");
    if (hd.type != (uint32_t)(type | GLB_REPLY_BIT) || hd.id != id)
        return glb_protocol(c, r, "reply type or id does not match the request");
    if (hd.flags != 0)
        return glb_protocol(c, r, "reply flags set");
    if (hd.status != 0) {
        uint32_t tl = hd.payload_len > GLB_MAX_ERROR_TEXT ? GLB_MAX_ERROR_TEXT : hd.payload_len;
        /* Error replies carry no fds; close any that came. */
        glb_close_fds(r);
        snprintf(c->last_error, sizeof c->last_error, "%s: %.*s",
                 glbridge_strerror((glbridge_status)hd.status), (int)tl,
                 (const char *)h + GLB_HEADER_SIZE);
        return (glbridge_status)hd.status;
    }
    if (r->nfds > max_fds)
        return glb_protocol(c, r, "more fds than the reply may carry");
    r->payload = h + GLB_HEADER_SIZE;
    r->len = hd.payload_len;
    return GLBRIDGE_OK;
}

/* ---- reconnection ---- */

/* exchange sends, on the new connection fd, the request of type whose
   payload (len bytes) is at buf + GLB_HEADER_SIZE, with fds, and
   receives its reply into buf (waiting up to wait_ms), which must carry
   no fds: GLBRIDGE_OK with *hd its header (whose status may be an
   error: the text follows it in buf), or GLBRIDGE_E_CLOSED,
   GLBRIDGE_E_PROTOCOL or GLBRIDGE_E_FATAL when the connection is of no
   use (the caller dials again). what names the request in the text. */
static glbridge_status exchange(glbridge_client *c, int fd, unsigned char *buf, uint16_t type, uint32_t len,
                                const int *fds, unsigned nfds, int wait_ms, const char *what, glb_header *hd)
{
    uint32_t id = c->next_id++;
    int mflags, e;
    glb_reply r;
    ssize_t n;

    if (id == 0)
        id = c->next_id++;
    glb_put_header(buf, type, id, len, (uint16_t)nfds);
    if ((e = send_msg(fd, buf, GLB_HEADER_SIZE + len, fds, nfds)) != 0)
        return glb_fail(c, GLBRIDGE_E_CLOSED, "%s: sendmsg: %s", what, strerror(e));
    n = recv_msg(fd, buf, &r, wait_ms, &mflags);
    glb_close_fds(&r); /* the replies carry none */
    if (n < 0)
        return glb_fail(c, GLBRIDGE_E_CLOSED, "%s: recvmsg: %s", what, strerror((int)-n));
    if (n == 0)
        return glb_fail(c, GLBRIDGE_E_CLOSED, "%s: the broker closed the connection", what);
    if ((mflags & (MSG_TRUNC | MSG_CTRUNC)) || glb_parse_header(buf, (size_t)n, hd) != 0)
        return glb_fail(c, GLBRIDGE_E_PROTOCOL, "%s: malformed reply", what);
    if (hd->type == GLB_FATAL_TYPE) {
        uint32_t tl = hd->payload_len > GLB_MAX_ERROR_TEXT ? GLB_MAX_ERROR_TEXT : hd->payload_len;
        return glb_fail(c, GLBRIDGE_E_FATAL, "%s: broker FATAL: %.*s", what, (int)tl,
                        (const char *)buf + GLB_HEADER_SIZE);
    }
    if (hd->version != GLBRIDGE_PROTOCOL_VERSION || hd->type != (type | GLB_REPLY_BIT) || hd->id != id ||
        hd->flags != 0 || hd->num_fds != 0)
        return glb_fail(c, GLBRIDGE_E_PROTOCOL, "%s: reply of another type, id or version", what);
    return GLBRIDGE_OK;
}

/* restore_all sends, on the new connection fd, before anything else:
   SET_SESSION with the session glbridge_set_session set, if any (the
   names restored are the session's); one RESTORE (or more, for many NT
   handles) for every resource held; one RESTORE_FENCE (or more) for
   every fence; and one RESTORE_KEYED_MUTEX for every keyed-mutex object,
   after the resources and fences it is bound to. It applies each reply.
   A resource (fence, keyed mutex) the broker refuses is dropped (its
   kept fds closed). Returns GLBRIDGE_OK when every one was answered, or
   an error when the connection failed or the session was refused (the
   caller dials again). buf is GLBRIDGE_MAX_MESSAGE_SIZE bytes of the
   caller's. */
static glbridge_status restore_all(glbridge_client *c, int fd, unsigned char *buf, uint32_t *restored)
{
    static const char *const kind[3] = {"resource", "fence", "keyed mutex"};
    glb_table *t = &c->held;
    int wait_ms = c->call_wait_ms > 0x7FFFFFFFu ? 0x7FFFFFFF : (int)c->call_wait_ms, rank;
    glbridge_status st;
    glb_header hd;

    *restored = 0;
    if (c->has_session) {
        glb_put32(buf + GLB_HEADER_SIZE, c->session);
        glb_put32(buf + GLB_HEADER_SIZE + 4, 0);
        if ((st = exchange(c, fd, buf, GLB_SET_SESSION, 8, NULL, 0, wait_ms, "SET_SESSION", &hd)) != GLBRIDGE_OK)
            return st;
        if (hd.status != 0) {
            uint32_t tl = hd.payload_len > GLB_MAX_ERROR_TEXT ? GLB_MAX_ERROR_TEXT : hd.payload_len;
            return glb_fail(c, (glbridge_status)hd.status, "SET_SESSION %u before the restores: %s: %.*s",
                            (unsigned)c->session, glbridge_strerror((glbridge_status)hd.status), (int)tl,
                            (const char *)buf + GLB_HEADER_SIZE);
        }
    }
    /* Resources, then fences, then keyed mutexes (glb_restore_rank). A
       dropped entry's place takes the last one, which this pass has not
       seen yet (an earlier rank's is skipped). */
    for (rank = 0; rank < 3; rank++) {
        size_t i = 0;
        while (i < t->count) {
            glb_held *hr = t->res[i];
            uint32_t k, chunks = glb_restore_chunks(hr);
            const char *what = kind[glb_restore_rank(hr)];
            int refused = 0;

            if (glb_restore_rank(hr) != rank) {
                i++;
                continue;
            }
            if (!hr->fds_ok) {
                refused = 1;
                glb_fail(c, GLBRIDGE_E_RESTORE_REFUSED, "%s 0x%x not restored: no fds kept (a dup failed)", what,
                         (unsigned)hr->kmt);
            }
            for (k = 0; !refused && k < chunks; k++) {
                uint32_t name_n, len, mask, kmt;
                int held_claim;

                len = glb_restore_encode(hr, k, buf + GLB_HEADER_SIZE, GLBRIDGE_MAX_MESSAGE_SIZE - GLB_HEADER_SIZE,
                                         &name_n, &held_claim);
                if (len == 0) {
                    refused = 1;
                    glb_fail(c, GLBRIDGE_E_TOO_LARGE, "%s 0x%x not restored: its RESTORE does not fit a message",
                             what, (unsigned)hr->kmt);
                    break;
                }
                st = exchange(c, fd, buf, glb_restore_type(hr), len, hr->fds, hr->nfds, wait_ms, "RESTORE", &hd);
                if (st != GLBRIDGE_OK)
                    return st;
                if (hd.status != 0) {
                    uint32_t tl = hd.payload_len > GLB_MAX_ERROR_TEXT ? GLB_MAX_ERROR_TEXT : hd.payload_len;
                    refused = 1;
                    glb_fail(c, (glbridge_status)hd.status, "%s 0x%x not restored: %s: %.*s", what,
                             (unsigned)hr->kmt, glbridge_strerror((glbridge_status)hd.status), (int)tl,
                             (const char *)buf + GLB_HEADER_SIZE);
                    break;
                }
                if (glb_parse_restore_reply(buf + GLB_HEADER_SIZE, hd.payload_len, &kmt, &mask) != 0 ||
                    kmt != hr->kmt)
                    return glb_fail(c, GLBRIDGE_E_PROTOCOL, "RESTORE: malformed reply payload");
                glb_restore_refused(hr, name_n, held_claim, mask);
            }
            if (refused) {
                /* It lives on in the fds its holders have, without a handle. */
                glb_held_drop(t, hr);
                c->refused++;
            } else {
                (*restored)++;
                i++;
            }
        }
    }
    return GLBRIDGE_OK;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* glb_reconnect dials the broker again, backing off from 5 ms up to
   max_backoff_ms between attempts, until it answers and takes the
   restores, or call_wait_ms after the connection was lost (at least one
   attempt is made). With the lock held (other calls wait meanwhile). */
static glbridge_status glb_reconnect(glbridge_client *c)
{
    uint64_t deadline = c->down_since_ns + (uint64_t)c->call_wait_ms * 1000000u, now;
    uint64_t backoff = GLB_FIRST_BACKOFF_MS;
    unsigned char *buf = malloc(GLBRIDGE_MAX_MESSAGE_SIZE);
    char why[GLB_MAX_ERROR_TEXT + 128] = "";

    if (!buf)
        return glb_fail(c, GLBRIDGE_E_NO_MEMORY, "out of memory");
    for (;;) {
        int no_socket;
        int fd = dial(c->path, &no_socket);
        if (fd >= 0) {
            uint32_t restored;
            glbridge_status st = restore_all(c, fd, buf, &restored);
            if (st == GLBRIDGE_OK) {
                free(buf);
                c->fd = fd;
                c->broken = GLBRIDGE_OK;
                c->down_since_ns = 0;
                c->reconnects++;
                c->restored += restored;
                return GLBRIDGE_OK;
            }
            snprintf(why, sizeof why, "%s", c->last_error);
            close(fd);
        } else {
            snprintf(why, sizeof why, "connect: %s", strerror(errno));
        }
        now = glb_now_ns();
        if (now >= deadline) {
            free(buf);
            return glb_fail(c, GLBRIDGE_E_CLOSED, "the broker at %s is unavailable (reconnecting for %.1f s; %s)",
                            c->path, (double)(now - c->down_since_ns) / 1e9, why);
        }
        if (backoff * 1000000u > deadline - now)
            sleep_ms((deadline - now + 999999u) / 1000000u);
        else
            sleep_ms(backoff);
        backoff *= 2;
        if (backoff > c->max_backoff_ms)
            backoff = c->max_backoff_ms;
    }
}

/* glb_call is glb_roundtrip for the request functions: on a reconnecting
   client a lost connection is dialled again and the held resources
   restored, and then the request is sent again — except CLOSE and
   RELEASE_SYNC, which count as done (the restores told the broker their
   outcome: glb_settle answers them), and ACQUIRE_SYNC and WAIT_FENCE go
   again with what is left of their timeouts. */
glbridge_status glb_call(glbridge_client *c, uint16_t type, uint32_t payload_len,
                         const int *fds, unsigned nfds, unsigned max_fds, glb_reply *r)
{
    uint64_t start = glb_now_ns();
    int waits = type == GLB_ACQUIRE_SYNC || type == GLB_WAIT_FENCE; /* timeout_ms at 4 in both */
    uint32_t timeout = waits ? glb_get32(glb_payload(c) + 4) : 0;
    glbridge_status st;

    for (;;) {
        st = glb_roundtrip(c, type, payload_len, fds, nfds, max_fds, r);
        if (!c->reconnect || c->fd >= 0 || !lost(c->broken))
            return st;
        if (c->down_since_ns == 0)
            c->down_since_ns = glb_now_ns();
        if (type == GLB_CLOSE || type == GLB_RELEASE_SYNC) {
            memset(r, 0, sizeof *r);
            r->payload = glb_payload(c);
            return glb_settle(c, type, glb_get32(glb_payload(c)));
        }
        if ((st = glb_reconnect(c)) != GLBRIDGE_OK)
            return st;
        if (waits && timeout != GLBRIDGE_INFINITE) {
            uint64_t el = (glb_now_ns() - start) / 1000000u;
            glb_put32(glb_payload(c) + 4, el >= timeout ? 0 : (uint32_t)(timeout - el));
        }
    }
}

glbridge_status glbridge_client_check(glbridge_client *c)
{
    glbridge_status st = GLBRIDGE_OK;

    if (!c)
        return GLBRIDGE_E_ARGUMENT;
    pthread_mutex_lock(&c->mu);
    if (c->fd >= 0) {
        struct pollfd p;
        int k;
        p.fd = c->fd;
        p.events = POLLIN | POLLRDHUP;
        p.revents = 0;
        while ((k = poll(&p, 1, 0)) < 0 && errno == EINTR)
            ;
        if (k < 0) {
            st = glb_io(c, "poll", errno);
        } else if (k > 0 && (p.revents & POLLIN) && !(p.revents & (POLLHUP | POLLRDHUP | POLLERR))) {
            /* Nothing is in flight: a message now is FATAL (or junk). */
            glb_reply r;
            glb_header hd;
            int mflags;
            ssize_t n = recv_msg(c->fd, c->buf, &r, 0, &mflags);
            glb_close_fds(&r);
            if (n < 0)
                st = glb_io(c, "recvmsg", (int)-n);
            else if (n == 0)
                glb_break(c, GLBRIDGE_E_CLOSED);
            else if (glb_parse_header(c->buf, (size_t)n, &hd) == 0 && hd.type == GLB_FATAL_TYPE)
                st = fatal(c, &hd, c->buf + GLB_HEADER_SIZE);
            else
                st = glb_protocol(c, NULL, "a message no request asked for");
        } else if (k > 0) {
            glb_break(c, GLBRIDGE_E_CLOSED);
            glb_fail(c, GLBRIDGE_E_CLOSED, "the broker closed the connection");
        }
    }
    if (st == GLBRIDGE_OK && c->fd < 0) {
        if (c->reconnect && lost(c->broken)) {
            if (c->down_since_ns == 0)
                c->down_since_ns = glb_now_ns();
            st = glb_reconnect(c);
        } else {
            st = glb_fail(c, GLBRIDGE_E_CLOSED, "connection unusable (%s)", glbridge_strerror(c->broken));
        }
    }
    pthread_mutex_unlock(&c->mu);
    return st;
}

glbridge_status glbridge_client_stats(glbridge_client *c, glbridge_reconnect_stats *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!c || !out)
        return GLBRIDGE_E_ARGUMENT;
    pthread_mutex_lock(&c->mu);
    out->connected = c->fd >= 0;
    out->reconnects = c->reconnects;
    out->restored = c->restored;
    out->refused = c->refused;
    out->untracked = c->untracked;
    out->held = (uint32_t)c->held.count;
    out->kept_fds = (uint32_t)c->held.kept_fds;
    pthread_mutex_unlock(&c->mu);
    return GLBRIDGE_OK;
}
