/* The connection: socket, request/reply round trips, fd passing. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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
    if (c->fd < 0) {
        glbridge_status st = glb_fail(c, GLBRIDGE_E_CLOSED, "connection unusable (%s)",
                                      glbridge_strerror(c->broken));
        pthread_mutex_unlock(&c->mu);
        return st;
    }
    return GLBRIDGE_OK;
}

void glb_unlock(glbridge_client *c) { pthread_mutex_unlock(&c->mu); }

glbridge_status glbridge_connect(const char *path, glbridge_client **out)
{
    char def[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    struct sockaddr_un sa;
    glbridge_client *c;
    glbridge_status st;
    int fd, err;

    if (!out)
        return GLBRIDGE_E_ARGUMENT;
    *out = NULL;
    if (!path) {
        st = glbridge_default_socket_path(def, sizeof def);
        if (st != GLBRIDGE_OK)
            return st;
        path = def;
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (path[0] == '\0' || strlen(path) >= sizeof sa.sun_path)
        return GLBRIDGE_E_ARGUMENT;
    memcpy(sa.sun_path, path, strlen(path));

    c = calloc(1, sizeof *c);
    if (!c)
        return GLBRIDGE_E_NO_MEMORY;
    c->buf = malloc(GLBRIDGE_MAX_MESSAGE_SIZE);
    if (!c->buf || pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c->buf);
        free(c);
        return GLBRIDGE_E_NO_MEMORY;
    }
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        st = GLBRIDGE_E_IO;
        goto fail;
    }
    while ((err = connect(fd, (struct sockaddr *)&sa, sizeof sa)) < 0 && errno == EINTR)
        ;
    if (err < 0) {
        close(fd);
        st = GLBRIDGE_E_CONNECT;
        goto fail;
    }
    c->fd = fd;
    c->next_id = 1;
    *out = c;
    return GLBRIDGE_OK;
fail:
    pthread_mutex_destroy(&c->mu);
    free(c->buf);
    free(c);
    return st;
}

void glbridge_client_close(glbridge_client *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
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
    if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) < 0) {
        st = glb_fail(c, GLBRIDGE_E_IO, "SO_PEERCRED: %s", strerror(errno));
    } else {
        *uid = (uint32_t)cred.uid;
    }
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

/* glb_roundtrip sends the request whose payload the caller wrote at
   glb_payload(c) with fds attached, and receives its reply. Called with
   the lock held. On GLBRIDGE_OK, r holds the reply's payload (in c->buf,
   valid until the next round trip) and its fds (at most max_fds, owned by
   the caller now). On any error no fd is left open. */
glbridge_status glb_roundtrip(glbridge_client *c, uint16_t type, uint32_t payload_len,
                              const int *fds, unsigned nfds, unsigned max_fds, glb_reply *r)
{
    union {
        struct cmsghdr h;
        unsigned char b[CMSG_SPACE(sizeof(int) * GLBRIDGE_MAX_FDS_PER_MESSAGE)];
    } ctl;
    struct msghdr mh;
    struct iovec iov;
    struct cmsghdr *cm;
    unsigned char *h = c->buf;
    uint32_t id, status, plen, rtype;
    uint16_t version, num_fds;
    ssize_t n;

    memset(r, 0, sizeof *r);
    if (payload_len > GLBRIDGE_MAX_MESSAGE_SIZE - GLB_HEADER_SIZE)
        return glb_fail(c, GLBRIDGE_E_TOO_LARGE, "request of %u bytes is too large",
                        (unsigned)payload_len);
    if (nfds > GLBRIDGE_MAX_FDS_PER_MESSAGE)
        return glb_fail(c, GLBRIDGE_E_ARGUMENT, "too many fds");

    id = c->next_id++;
    if (id == 0)
        id = c->next_id++;
    glb_put32(h + 0, GLB_MAGIC);
    glb_put16(h + 4, GLBRIDGE_PROTOCOL_VERSION);
    glb_put16(h + 6, type);
    glb_put32(h + 8, id);
    glb_put32(h + 12, payload_len);
    glb_put16(h + 16, (uint16_t)nfds);
    glb_put16(h + 18, 0);
    glb_put32(h + 20, 0);

    memset(&mh, 0, sizeof mh);
    memset(&ctl, 0, sizeof ctl);
    iov.iov_base = h;
    iov.iov_len = GLB_HEADER_SIZE + payload_len;
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
    while ((n = sendmsg(c->fd, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return glb_io(c, "sendmsg", errno);
    if ((size_t)n != iov.iov_len)
        return glb_io(c, "sendmsg (short)", EIO);

    /* The reply. One request is in flight per client, so it is the next
       message (the broker answers every request, ACQUIRE_SYNC included). */
    memset(&mh, 0, sizeof mh);
    memset(&ctl, 0, sizeof ctl);
    iov.iov_base = c->buf;
    iov.iov_len = GLBRIDGE_MAX_MESSAGE_SIZE;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.b;
    mh.msg_controllen = sizeof ctl.b;
    while ((n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return glb_io(c, "recvmsg", errno);
    /* Take every fd that came first, so that each path below closes them. */
    for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        size_t k, cnt;
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
            cm->cmsg_len < CMSG_LEN(0))
            continue;
        cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (k = 0; k < cnt; k++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof fd);
            if (r->nfds < GLBRIDGE_MAX_FDS_PER_MESSAGE)
                r->fds[r->nfds++] = fd;
            else
                close(fd);
        }
    }
    if (n == 0) {
        glb_close_fds(r);
        glb_break(c, GLBRIDGE_E_CLOSED);
        return glb_fail(c, GLBRIDGE_E_CLOSED, "the broker closed the connection");
    }
    if (mh.msg_flags & MSG_CTRUNC)
        return glb_protocol(c, r, "control data truncated (too many fds)");
    if (mh.msg_flags & MSG_TRUNC)
        return glb_protocol(c, r, "message larger than 73728 bytes");
    if ((size_t)n < GLB_HEADER_SIZE)
        return glb_protocol(c, r, "shorter than the header");
    if (glb_get32(h) != GLB_MAGIC)
        return glb_protocol(c, r, "bad magic");
    version = glb_get16(h + 4);
    rtype = glb_get16(h + 6);
    plen = glb_get32(h + 12);
    num_fds = glb_get16(h + 16);
    status = glb_get32(h + 20);
    if (plen != (uint32_t)n - GLB_HEADER_SIZE)
        return glb_protocol(c, r, "payload_len differs from the message size");
    if (num_fds != r->nfds)
        return glb_protocol(c, r, "num_fds differs from the fds received");

    if (rtype == GLB_FATAL_TYPE) {
        uint32_t tl = plen > GLB_MAX_ERROR_TEXT ? GLB_MAX_ERROR_TEXT : plen;
        glb_close_fds(r);
        glb_break(c, GLBRIDGE_E_CLOSED);
        snprintf(c->last_error, sizeof c->last_error, "broker FATAL: %.*s", (int)tl,
                 (const char *)h + GLB_HEADER_SIZE);
        if (status >= 1 && status <= 20)
            return (glbridge_status)status;
        return GLBRIDGE_E_FATAL;
    }
    if (status != 0 && (version == 1 || version == 2) && status == GLBRIDGE_E_BAD_VERSION) {
        /* A version-1-only broker answers in version 1. */
        glb_close_fds(r);
        return glb_fail(c, GLBRIDGE_E_BAD_VERSION, "the broker does not speak protocol version 2");
    }
    if (version != GLBRIDGE_PROTOCOL_VERSION)
        return glb_protocol(c, r, "reply version is not 2");
    if (rtype != (uint32_t)(type | GLB_REPLY_BIT) || glb_get32(h + 8) != id)
        return glb_protocol(c, r, "reply type or id does not match the request");
    if (glb_get16(h + 18) != 0)
        return glb_protocol(c, r, "reply flags set");
    if (status != 0) {
        uint32_t tl = plen > GLB_MAX_ERROR_TEXT ? GLB_MAX_ERROR_TEXT : plen;
        /* Error replies carry no fds; close any that came. */
        glb_close_fds(r);
        snprintf(c->last_error, sizeof c->last_error, "%s: %.*s",
                 glbridge_strerror((glbridge_status)status), (int)tl,
                 (const char *)h + GLB_HEADER_SIZE);
        return (glbridge_status)status;
    }
    if (r->nfds > max_fds)
        return glb_protocol(c, r, "more fds than the reply may carry");
    r->payload = h + GLB_HEADER_SIZE;
    r->len = plen;
    return GLBRIDGE_OK;
}
