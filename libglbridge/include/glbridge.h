/*
 * glbridge.h: libglbridge, the C client of the glbridge broker.
 *
 * One public C99 header, usable from C++. libglbridge speaks version 2 of
 * the broker protocol (docs/protocol.md in the glbridge repository, the
 * byte-exact specification this library implements). It needs libc only:
 * it never loads Vulkan or GL (its GL helpers call GL through entry points
 * the caller resolves, section 5).
 *
 * Organisation of this header:
 *   1. Status codes and glbridge_strerror
 *   2. Records (Desc, Allocation, GL section, level layouts, resource record)
 *   3. Connection (socket path, connect, close, last error text), and the
 *      reconnecting client that survives a broker restart (RESTORE)
 *   4. Requests of protocol version 2 (ALLOCATE ... RELEASE_SYNC, LIST),
 *      NT handles as Windows handles (DUPLICATE, OPEN_DUPLICATE,
 *      QUERY_OBJECT), sessions (SET_SESSION), shared fences
 *      (CREATE_FENCE ... LIST_FENCES, service fences), keyed-mutex
 *      objects (CREATE_KEYED_MUTEX, OPEN_KEYED_MUTEX)
 *   5. GL helpers: import into GL (GL_EXT_memory_object_fd), the copy path
 *      for host memory, semaphores; GL entry points come from a
 *      proc-address function the caller passes (libglbridge never links GL)
 *
 * Conventions, which hold for every function below unless it says else:
 *   - Every function returns a glbridge_status; GLBRIDGE_OK (0) is success.
 *     Positive values are the broker's error codes (1..22), negative ones
 *     are local errors found by the library.
 *   - On failure no output is valid: output fds are set to -1, records are
 *     zeroed, and nothing needs to be freed or closed.
 *   - All fds the library makes or hands out have FD_CLOEXEC set. An fd the
 *     library hands out belongs to the caller, who closes it. An fd the
 *     caller passes in stays the caller's (the broker keeps its own copy).
 *     Every fd that arrives with a reply and is not handed out (an error
 *     reply carrying fds, a malformed reply, surplus fds) is closed.
 *   - There is no global state: everything hangs off a glbridge_client.
 *
 * Threads: a glbridge_client may be used from several threads at once. It
 * holds a mutex and serves ONE request at a time: a call sends its request
 * and waits for the reply with the client's mutex held, so other threads'
 * calls on the same client wait for it. In particular glbridge_acquire_sync
 * (and glbridge_wait_fence) waits (up to its timeout) while holding the
 * client: a caller that waits for a keyed mutex (or a fence) with a long
 * (or INFINITE) timeout must do so on a client of its own (a second
 * glbridge_connect), and release the mutex through the connection
 * (client) that holds the handle it acquired through.
 * Note that handles are per connection (NT handles) or referenced per
 * connection (KMT handles), so the second client opens the resource itself.
 *
 * A reconnecting client (glbridge_connect_opts) reconnects inside the call
 * that found the connection lost, with the mutex held: the other threads'
 * calls wait for it, and then find the connection back (or fail as that
 * call does). Everything it keeps hangs off the client.
 *
 * A client is not usable across fork(): the child must make its own.
 */
#ifndef GLBRIDGE_H
#define GLBRIDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(GLBRIDGE_BUILD) && defined(__GNUC__)
#define GLBRIDGE_API __attribute__((visibility("default")))
#else
#define GLBRIDGE_API
#endif

/** Protocol version this library speaks. */
#define GLBRIDGE_PROTOCOL_VERSION 2

/* Limits of the protocol (docs/protocol.md, "Limits"). */
#define GLBRIDGE_MAX_MESSAGE_SIZE 73728u   /* largest message, header included */
#define GLBRIDGE_MAX_PRIVATE_DATA 65536u   /* largest private data blob */
#define GLBRIDGE_MAX_FDS_PER_MESSAGE 8u
#define GLBRIDGE_MAX_SYNC_OBJECTS 2u       /* semaphores per resource */
#define GLBRIDGE_MAX_LEVELS 15u            /* level layouts per GL section */
#define GLBRIDGE_MAX_NAME_LEN 255u         /* bytes of UTF-8 */
#define GLBRIDGE_MAX_NAMES 8u              /* names per resource */
#define GLBRIDGE_MAX_OBJECT_PATH 319u      /* longest object name path (QUERY_OBJECT, fences) */
#define GLBRIDGE_MAX_SESSION 65535u        /* largest session glbridge_set_session takes */

/* Access rights of NT handles (DXGI's values). KMT handles grant both. */
#define GLBRIDGE_ACCESS_READ 0x80000000u
#define GLBRIDGE_ACCESS_WRITE 0x00000001u

/* Sync kinds of semaphore fds. GLBRIDGE_SYNC_NONE only for ALLOCATE. */
#define GLBRIDGE_SYNC_NONE 0u
#define GLBRIDGE_SYNC_BINARY 1u
#define GLBRIDGE_SYNC_TIMELINE 2u

/* glbridge_acquire_sync's timeout that waits for ever. */
#define GLBRIDGE_INFINITE 0xFFFFFFFFu

/* Allocation flags (glbridge_allocation.flags). */
#define GLBRIDGE_ALLOC_DEDICATED 1u   /* dedicated allocation */
#define GLBRIDGE_ALLOC_HOST_MEMORY 2u /* fd is a sealed memfd in the host-memory layout */

/* Resource record flags (glbridge_record.flags, glbridge_list_entry.origin_flags). */
#define GLBRIDGE_RECORD_SERVICE_ALLOCATED 1u /* the broker allocated it (ALLOCATE) */

/* ALLOCATE request flags (glbridge_allocate_params.flags). */
#define GLBRIDGE_ALLOCATE_HOST_MEMORY 1u

/* LIST flags. */
#define GLBRIDGE_LIST_SYNC_STATE 1u /* fill glbridge_list_entry.sync */

/* Desc dimensions. */
#define GLBRIDGE_DIM_BUFFER 1u
#define GLBRIDGE_DIM_TEXTURE1D 2u
#define GLBRIDGE_DIM_TEXTURE2D 3u
#define GLBRIDGE_DIM_TEXTURE3D 4u
#define GLBRIDGE_DIM_TEXTURECUBE 5u

/* ===================================================================== */
/* 1. Status codes                                                        */
/* ===================================================================== */

/**
 * glbridge_status: the result of every call.
 *
 * 1..22 are the broker's error codes (docs/protocol.md, "Error codes"),
 * with the same numbers; the library also returns some of them itself
 * when it refuses an argument the broker would refuse (a name longer than
 * 255 bytes: GLBRIDGE_E_BAD_NAME; private data over 64 KiB:
 * GLBRIDGE_E_TOO_LARGE). Negative values are local errors.
 */
typedef enum glbridge_status {
    GLBRIDGE_OK = 0,
    /* The broker's codes. */
    GLBRIDGE_E_BAD_MESSAGE = 1,        /* malformed request (a library bug, or reserved bits set) */
    GLBRIDGE_E_BAD_VERSION = 2,        /* the broker does not speak version 2 (a version-1-only broker) */
    GLBRIDGE_E_UNKNOWN_TYPE = 3,       /* the broker does not know the request */
    GLBRIDGE_E_TOO_LARGE = 4,          /* message or private data too large */
    GLBRIDGE_E_BAD_FDS = 5,            /* wrong fds: a socket/directory, an unsealed or small memfd for host memory, ... */
    GLBRIDGE_E_BAD_HANDLE = 6,         /* a value that is neither a KMT nor an NT handle */
    GLBRIDGE_E_NOT_FOUND = 7,          /* unknown/stale handle, handle not held here, unknown name; a waiting acquire whose handle was closed */
    GLBRIDGE_E_ACCESS_DENIED = 8,      /* more access than granted; not the creator; not the mutex holder; peer uid refused */
    GLBRIDGE_E_NAME_TAKEN = 9,         /* the name belongs to a live resource */
    GLBRIDGE_E_BAD_NAME = 10,          /* empty, too long, invalid UTF-8 or a forbidden character */
    GLBRIDGE_E_LIMIT = 11,             /* a broker limit (resources, names per resource, semaphores, connections) */
    GLBRIDGE_E_UNSUPPORTED = 12,       /* not sent in version 2 */
    GLBRIDGE_E_INVALID = 13,           /* invalid argument: access bits, sizes, sync kinds, acquire twice */
    GLBRIDGE_E_INTERNAL = 14,          /* the broker failed or is shutting down; retrying may succeed */
    GLBRIDGE_E_TIMEOUT = 15,           /* acquire: the timeout passed (WAIT_TIMEOUT) */
    GLBRIDGE_E_QUOTA = 16,             /* over a per-connection or per-uid quota */
    GLBRIDGE_E_NO_DEVICE = 17,         /* ALLOCATE, service fence: no Vulkan device of these UUIDs (or no Vulkan) */
    GLBRIDGE_E_UNSUPPORTED_FORMAT = 18, /* ALLOCATE: the device (or host memory) cannot make this resource */
    GLBRIDGE_E_INVALID_DESC = 19,      /* the Desc is not valid; glbridge_last_error names the field */
    GLBRIDGE_E_NO_SEMAPHORE = 20,      /* ALLOCATE, service fence: the device cannot export semaphores of that kind; a host signal of a fence without one */
    GLBRIDGE_E_RESTORE_REFUSED = 21,   /* RESTORE: the new broker did not take a resource back (reconnecting clients) */
    GLBRIDGE_E_WRONG_TYPE = 22,        /* a fence call through a resource's or keyed mutex's handle, or the reverse (STATUS_OBJECT_TYPE_MISMATCH) */
    /* Local errors. */
    GLBRIDGE_E_IO = -1,                /* a socket call failed (errno is kept in glbridge_last_error's text) */
    GLBRIDGE_E_CLOSED = -2,            /* the broker hung up (or died); the client is unusable: close it */
    GLBRIDGE_E_PROTOCOL = -3,          /* the broker's reply was malformed; the client is unusable: close it */
    GLBRIDGE_E_ARGUMENT = -4,          /* a bad argument to the library (NULL pointer, count out of range) */
    GLBRIDGE_E_NO_MEMORY = -5,         /* malloc failed */
    GLBRIDGE_E_CONNECT = -6,           /* connect: no broker listens at the path (or the path is unusable) */
    GLBRIDGE_E_FATAL = -7,             /* the broker sent FATAL with an unknown code and hung up */
    GLBRIDGE_E_GL = -8,                /* GL helpers: a GL call failed (a GL error, or no storage was made) */
    GLBRIDGE_E_GL_UNSUPPORTED = -9     /* GL helpers: the context lacks the extension or entry point */
} glbridge_status;

/**
 * glbridge_strerror: a static English description of status, never NULL
 * (unknown values get "unknown glbridge status"). Thread-safe.
 */
GLBRIDGE_API const char *glbridge_strerror(glbridge_status status);

/* ===================================================================== */
/* 2. Records                                                             */
/* ===================================================================== */

/** The Desc record (40 bytes on the wire): what Direct3D records. */
typedef struct glbridge_desc {
    uint32_t dimension;           /* GLBRIDGE_DIM_* (0 is invalid) */
    uint32_t width;               /* texels, or bytes for a buffer */
    uint32_t height;
    uint32_t depth_or_array_size; /* depth (3D), array size (1D/2D), cubes (cube) */
    uint32_t mip_levels;          /* explicit, >= 1 */
    uint32_t sample_count;
    uint32_t format;              /* DXGI_FORMAT */
    uint32_t bind_flags;          /* D3D11_BIND_* */
    uint32_t misc_flags;          /* D3D11_RESOURCE_MISC_* */
    uint32_t cpu_access_flags;    /* D3D11_CPU_ACCESS_* */
} glbridge_desc;

/** The Allocation record (112 bytes): the Desc and the Vulkan allocation. */
typedef struct glbridge_allocation {
    glbridge_desc desc;
    uint32_t vk_format;           /* VkFormat; 0 for buffers and host memory */
    uint32_t tiling;              /* VkImageTiling: 0 optimal, 1 linear */
    uint32_t image_usage;         /* VkImageUsageFlags */
    uint32_t image_flags;         /* VkImageCreateFlags */
    uint64_t size;                /* size to import (or of the host-memory layout), > 0 */
    uint64_t offset;              /* offset in the memory, < size */
    uint32_t memory_type_index;
    uint32_t flags;               /* GLBRIDGE_ALLOC_* */
    uint8_t driver_uuid[16];
    uint8_t device_uuid[16];
} glbridge_allocation;

/** One level layout (40 bytes): where a mip level lies in host memory. */
typedef struct glbridge_level_layout {
    uint64_t offset;              /* first subresource of the level */
    uint64_t subresource_size;    /* row_pitch * rows * depth */
    uint32_t width, height, depth;/* the level's extent (depth: 3D slices, else 1) */
    uint32_t row_pitch;           /* bytes of a row of texels or 4x4 blocks */
    uint32_t rows;                /* rows of a slice (texels or blocks) */
} glbridge_level_layout;

/**
 * The GL section (48 bytes): what GL needs to view the memory as a
 * texture. target 0: GL cannot view it as a texture (a buffer, ...), and
 * every field up to samples is 0.
 */
typedef struct glbridge_gl_section {
    uint32_t target;              /* GL texture target (GL_TEXTURE_2D 0x0DE1, ...) or 0 */
    uint32_t internal_format;     /* sized internal format for the storage call */
    uint32_t format;              /* glTexSubImage format; 0 for block-compressed */
    uint32_t type;                /* glTexSubImage type; 0 for block-compressed */
    uint8_t swizzle[4];           /* sources of SWIZZLE_R,G,B,A: 0 identity, 1..4 RGBA, 5 zero, 6 one */
    uint32_t width, height, depth;/* the storage call's extent */
    uint32_t levels;              /* mip levels */
    uint32_t samples;             /* > 1 only for multisample targets */
    uint32_t level_count;         /* level layouts in glbridge_record.levels, 0..15 */
} glbridge_gl_section;

/**
 * A version-2 resource record, parsed (the reply of ALLOCATE, OPEN_KMT,
 * OPEN_NAME and QUERY). data is a malloc'd copy of the private runtime
 * data (NULL when data_len is 0), owned by the caller: release it with
 * glbridge_record_free.
 */
typedef struct glbridge_record {
    uint32_t handle;              /* the handle the reply is about (NT handle after OPEN_NAME) */
    uint32_t kmt;                 /* the resource's KMT handle */
    uint32_t access;              /* rights of handle (GLBRIDGE_ACCESS_*) */
    uint32_t sync_count;          /* semaphores, 0..2 */
    uint32_t data_len;            /* bytes at data */
    uint32_t flags;               /* GLBRIDGE_RECORD_* */
    glbridge_allocation alloc;
    glbridge_gl_section gl;
    glbridge_level_layout levels[GLBRIDGE_MAX_LEVELS]; /* gl.level_count valid; the rest zero */
    uint32_t sync_kinds[GLBRIDGE_MAX_SYNC_OBJECTS];    /* sync_count valid, in fd order */
    void *data;
} glbridge_record;

/** Frees rec->data and zeroes *rec. NULL is allowed. */
GLBRIDGE_API void glbridge_record_free(glbridge_record *rec);

/**
 * The fds that come with an opened or allocated resource, all owned by the
 * caller: memory (the memory fd, or a sealed memfd for host memory), then
 * sync[0..record.sync_count-1] in the record's kind order. Unused entries
 * are -1.
 */
typedef struct glbridge_fds {
    int memory;
    int sync[GLBRIDGE_MAX_SYNC_OBJECTS];
} glbridge_fds;

/** Closes every fd of *fds that is >= 0 and sets it to -1. NULL allowed. */
GLBRIDGE_API void glbridge_fds_close(glbridge_fds *fds);

/* ===================================================================== */
/* 3. Connection                                                          */
/* ===================================================================== */

typedef struct glbridge_client glbridge_client;

/**
 * glbridge_default_socket_path writes the broker's default socket path,
 * NUL-terminated, into buf (len bytes): $XDG_RUNTIME_DIR/glbridge/broker.sock
 * when XDG_RUNTIME_DIR is set and not empty, else
 * $TMPDIR/glbridge-<uid>/broker.sock with $TMPDIR defaulting to /tmp when
 * unset or empty, cleaned as Go's filepath.Join cleans it (repeated and
 * trailing slashes, "." and ".." elements), exactly as the Go client's
 * broker.DefaultSocketPath. Reads the environment (getenv): do not call it
 * while another thread changes the environment.
 * Errors: GLBRIDGE_E_ARGUMENT (buf NULL, or len too small for the path).
 */
GLBRIDGE_API glbridge_status glbridge_default_socket_path(char *buf, size_t len);

/**
 * glbridge_connect connects to the broker at path (NULL: the default
 * path, glbridge_default_socket_path) with an AF_UNIX SOCK_SEQPACKET
 * socket (SOCK_CLOEXEC) and stores a new client at *out (NULL on failure).
 * The client owns the socket; glbridge_client_close frees both.
 * Errors: GLBRIDGE_E_ARGUMENT (out NULL, path longer than sun_path),
 * GLBRIDGE_E_CONNECT (nothing listens there: ENOENT, ECONNREFUSED, ...),
 * GLBRIDGE_E_IO (socket() failed), GLBRIDGE_E_NO_MEMORY.
 */
GLBRIDGE_API glbridge_status glbridge_connect(const char *path, glbridge_client **out);

/**
 * Options of glbridge_connect_opts. Zero-initialise and set what you want:
 * every zero field takes its default. (Fields are only ever added with a
 * new soname.)
 */
typedef struct glbridge_connect_options {
    /**
     * reconnect (0: off, glbridge_connect's behaviour): the client
     * outlives its connection. When a request finds the connection lost
     * (EPIPE, ECONNRESET, end of file, a short read: the broker crashed,
     * was killed or restarted), the client dials the same path again,
     * backing off from 5 ms, doubling up to max_backoff_ms between
     * attempts, and on the new connection first sends one RESTORE
     * (docs/protocol.md, "13 RESTORE") for every resource it holds, so
     * that the new broker has it back under the same KMT handle, NT
     * handle values and names (and each NT handle to its object's name,
     * as glbridge_query_object reports it), with its record, private
     * data, memory and semaphore fds and keyed-mutex state, and one
     * RESTORE_FENCE ("23 RESTORE_FENCE") for every fence it holds, with
     * its handles, names, timeline semaphore fd and the latest value it
     * learnt (the one with the most signals: the new broker takes the
     * latest any holder saw; a service fence this client created with
     * its device's UUIDs, so that the new broker imports its semaphore
     * again), and then one RESTORE_KEYED_MUTEX ("26
     * RESTORE_KEYED_MUTEX") for every keyed-mutex object it created or
     * opened, with its private data, KMT references, resource and sync
     * object and this client's view of the mutex. Before all of them,
     * when glbridge_set_session succeeded on the client, it sends
     * SET_SESSION with that session again, so that the restored names
     * are the session's. A keyed mutex's view (held through a handle,
     * released last, or told abandoned — ACQUIRE_SYNC's ABANDONED, or a
     * hold of this client that ended unreleased) goes with the RESTORE
     * of the resource (MUTEX_HELD, MUTEX_RELEASED, MUTEX_ABANDONED) or
     * of the keyed-mutex object it was acquired through, as the Go
     * client sends it. A name this client holds no NT handle to the
     * object of any more (the last one closed) is no longer claimed, as
     * the broker frees a name with its object's last handle. Then the
     * request goes
     * again — except CLOSE (glbridge_close) and RELEASE_SYNC
     * (glbridge_release_sync), which count as done (the restore told the
     * new broker their outcome), and glbridge_acquire_sync and
     * glbridge_wait_fence go again with what is left of their timeouts.
     * Duplicates not yet redeemed are not restored (their tokens are
     * NOT_FOUND at the new broker). The caller sees only a call that
     * took longer. A CLOSE or RELEASE_SYNC made while the connection is
     * lost does not wait for the broker: it returns GLBRIDGE_OK when the
     * client holds the handle (and, for RELEASE_SYNC, the mutex through
     * it), else GLBRIDGE_E_NOT_FOUND (GLBRIDGE_E_ACCESS_DENIED), and the
     * next restore carries its outcome.
     *
     * Every request function reconnects like this; glbridge_broker_uid
     * does not (it fails with GLBRIDGE_E_CLOSED while the connection is
     * lost). A malformed reply (GLBRIDGE_E_PROTOCOL) or a FATAL message
     * still ends the client for good: the broker is there and refuses it.
     * An ALLOCATE, CREATE or a SHARE with a name sent to a new broker
     * waits until its restore window closes (the broker makes no new
     * handle or name meanwhile), as an OPEN_KMT, OPEN_NAME or QUERY of
     * what is not there does.
     *
     * What it costs: for each resource held, the client keeps a dup of
     * its memory fd and of each semaphore fd (close-on-exec; the caller
     * still owns and closes its own fds exactly as without reconnect),
     * its Allocation record, sync kinds, private data (the creator's
     * latest UPDATE_DATA, else the newest an open showed), its KMT
     * reference count, NT handles with their access and object name, the
     * names it shared or opened by (a redeemed duplicate's object path
     * among them), and its keyed-mutex view; for each fence held, a dup
     * of its timeline semaphore fd (if it has one), the latest value,
     * its KMT reference count, NT handles and names (and, for a service
     * fence it created, the UUIDs); for each keyed-mutex object, its
     * record (private data, resource and sync handles), KMT reference
     * count and mutex view (no fd); and the session it set. The dups are closed
     * when the last reference is closed (glbridge_close, or a
     * glbridge_duplicate with GLBRIDGE_DUPLICATE_CLOSE_SOURCE), when a
     * new broker refuses the resource or fence, and by
     * glbridge_client_close.
     *
     * A new broker takes restores only in its restore window (glshare
     * serve --restore-window, 2 s by default, after a crash or a stop
     * with live resources), so the resources come back only if the
     * client makes a call (or glbridge_client_check) soon enough after
     * the new broker starts: the library starts no thread and notices a
     * lost connection only in a call. A resource or fence refused
     * (window closed, or another object took its handle) is forgotten: its handles
     * then get GLBRIDGE_E_NOT_FOUND (or BAD_HANDLE) from the new broker;
     * names it had that another resource took are forgotten too, and a
     * keyed-mutex hold another connection claimed first is no longer
     * held. Memory and semaphores live on in the fds their holders have.
     */
    int reconnect;
    /**
     * call_wait_ms: how long a call waits for a lost broker to come back,
     * counted from when the connection was found lost; then it fails with
     * GLBRIDGE_E_CLOSED (glbridge_last_error says why), the client stays
     * usable, and each later call tries to connect once more (failing at
     * once when nothing answers) until the broker is back. 0: 10000 (10
     * s, as the Go client's DefaultCallWait). The same bound applies to
     * each RESTORE reply. The client's mutex is held meanwhile: other
     * threads' calls on it wait too.
     */
    uint32_t call_wait_ms;
    /** max_backoff_ms: the longest wait between two dial attempts. 0: 500. */
    uint32_t max_backoff_ms;
} glbridge_connect_options;

/**
 * glbridge_connect_opts is glbridge_connect with options (opts NULL: as
 * glbridge_connect). The first connection must succeed (GLBRIDGE_E_CONNECT
 * otherwise, as glbridge_connect); reconnection covers later losses. A
 * reconnecting client keeps the path to dial again. Errors: as
 * glbridge_connect.
 */
GLBRIDGE_API glbridge_status glbridge_connect_opts(const char *path,
                                                   const glbridge_connect_options *opts,
                                                   glbridge_client **out);

/**
 * glbridge_client_check looks at the connection without a round trip
 * (poll with no wait). On a reconnecting client whose connection is lost
 * it reconnects and restores now (waiting as a call does, up to
 * call_wait_ms): a process that may be idle when the broker restarts
 * (a producer that shared a texture and waits) calls it from time to
 * time — every frame or every few hundred ms — so that its resources are
 * back within the new broker's restore window. Returns GLBRIDGE_OK when
 * connected; GLBRIDGE_E_CLOSED when lost (a plain client: for good) or
 * the reconnection timed out; the code of a FATAL message that was
 * waiting. Thread-safe like every call (takes the client's mutex).
 */
GLBRIDGE_API glbridge_status glbridge_client_check(glbridge_client *client);

/** What a reconnecting client did and holds (glbridge_client_stats). */
typedef struct glbridge_reconnect_stats {
    int connected;                /* 1 while the connection is up */
    uint32_t reconnects;          /* reconnections done */
    uint32_t restored;            /* resources, fences and keyed mutexes new brokers took back, all reconnections together */
    uint32_t refused;             /* resources, fences and keyed mutexes dropped because a new broker refused them */
    uint32_t untracked;           /* things the client could not keep (out of memory): not restored */
    uint32_t held;                /* resources, fences and keyed-mutex objects kept now */
    uint32_t kept_fds;            /* dups of fds kept now, for the held resources and fences */
} glbridge_reconnect_stats;

/**
 * glbridge_client_stats fills *stats (zeros, but connected, for a
 * client without reconnect). Errors: GLBRIDGE_E_ARGUMENT.
 */
GLBRIDGE_API glbridge_status glbridge_client_stats(glbridge_client *client,
                                                   glbridge_reconnect_stats *stats);

/**
 * glbridge_client_close closes the connection and frees the client. The
 * broker then releases every reference the connection held (its handles
 * become invalid) and abandons every keyed mutex it held. fds the caller
 * received stay valid. A reconnecting client also closes the dups it kept
 * and forgets what it held (nothing is restored after this). No call on
 * the client may be running or follow. NULL is allowed.
 */
GLBRIDGE_API void glbridge_client_close(glbridge_client *client);

/**
 * glbridge_last_error copies, NUL-terminated and truncated to len, the
 * diagnostic text of the client's most recent failed call (the broker's
 * error text, or the library's description of a local error) into buf;
 * an empty string when none failed yet. With several threads it is the
 * text of whichever call failed last. Returns GLBRIDGE_E_ARGUMENT when
 * client or buf is NULL or len is 0.
 */
GLBRIDGE_API glbridge_status glbridge_last_error(glbridge_client *client, char *buf, size_t len);

/**
 * glbridge_broker_uid stores the uid of the broker's process (SO_PEERCRED
 * of the socket) at *uid, so a caller can check that the broker is who it
 * expects. Errors: GLBRIDGE_E_ARGUMENT, GLBRIDGE_E_IO.
 */
GLBRIDGE_API glbridge_status glbridge_broker_uid(glbridge_client *client, uint32_t *uid);

/* ===================================================================== */
/* 4. Requests                                                            */
/* ===================================================================== */

/*
 * Errors every request may return besides those listed with it:
 * GLBRIDGE_E_ARGUMENT (a NULL client or output pointer), GLBRIDGE_E_IO,
 * GLBRIDGE_E_CLOSED (the broker hung up: every later call on the client
 * returns GLBRIDGE_E_CLOSED too — on a reconnecting client only when the
 * broker did not come back within call_wait_ms, and later calls try
 * again), GLBRIDGE_E_PROTOCOL (a malformed reply;
 * the client is unusable afterwards), GLBRIDGE_E_NO_MEMORY,
 * GLBRIDGE_E_INTERNAL and GLBRIDGE_E_BAD_MESSAGE from the broker, and the
 * code of a FATAL message (the client is then closed by the broker).
 * Handle arguments may get GLBRIDGE_E_BAD_HANDLE (not a handle's shape) and
 * GLBRIDGE_E_NOT_FOUND (unknown, stale, or not held by this connection).
 */

/** ALLOCATE's parameters. Zero-initialise and fill in. */
typedef struct glbridge_allocate_params {
    uint32_t flags;               /* GLBRIDGE_ALLOCATE_HOST_MEMORY, or 0 for Vulkan memory */
    uint32_t sync_kind;           /* GLBRIDGE_SYNC_NONE/_BINARY/_TIMELINE */
    uint32_t sync_count;          /* 0 with NONE; 1 or 2 BINARY; 1 TIMELINE; 0 for host memory */
    glbridge_desc desc;
    uint8_t driver_uuid[16];      /* the GPU to allocate on (zeros for host memory) */
    uint8_t device_uuid[16];
    const void *data;             /* private runtime data, data_len bytes (NULL if 0) */
    uint32_t data_len;            /* <= 65536 */
} glbridge_allocate_params;

/**
 * glbridge_allocate (ALLOCATE): the broker allocates a resource — Vulkan
 * memory on its device of the given UUIDs, or host memory — and registers
 * it as this connection's (its creator), holding one reference through
 * rec->kmt (release with glbridge_close). On success *rec is the record
 * (free rec->data with glbridge_record_free) and *fds the new fds:
 * memory, then sync_count semaphores, owned by the caller.
 * Errors: GLBRIDGE_E_INVALID (sync kind/count pair), GLBRIDGE_E_TOO_LARGE
 * (data_len > 65536, found locally), GLBRIDGE_E_INVALID_DESC,
 * GLBRIDGE_E_UNSUPPORTED_FORMAT, GLBRIDGE_E_LIMIT, GLBRIDGE_E_QUOTA,
 * GLBRIDGE_E_NO_DEVICE, GLBRIDGE_E_NO_SEMAPHORE, GLBRIDGE_E_INTERNAL,
 * GLBRIDGE_E_UNKNOWN_TYPE or GLBRIDGE_E_BAD_VERSION (an older broker).
 * Nothing is allocated when it fails.
 */
GLBRIDGE_API glbridge_status glbridge_allocate(glbridge_client *client,
                                               const glbridge_allocate_params *params,
                                               glbridge_record *rec, glbridge_fds *fds);

/**
 * glbridge_create (CREATE): registers the caller's own memory fd with its
 * Allocation record, sync_count (0..2) semaphore fds with their kinds
 * (sync_kinds[i] GLBRIDGE_SYNC_BINARY or _TIMELINE for sync_fds[i]) and
 * data_len bytes of private data. The broker keeps copies of the fds: the
 * caller still owns memory_fd and sync_fds and may close them at once. The
 * connection becomes the creator and holds one reference through *kmt.
 * With GLBRIDGE_ALLOC_HOST_MEMORY in alloc->flags memory_fd must be a memfd
 * sealed with F_SEAL_SHRINK and F_SEAL_GROW of at least alloc->size bytes.
 * Errors: GLBRIDGE_E_ARGUMENT (sync_count > 2, a NULL array with a count,
 * memory_fd < 0), GLBRIDGE_E_TOO_LARGE, GLBRIDGE_E_BAD_FDS,
 * GLBRIDGE_E_INVALID (size 0, offset >= size, unknown flags or sync kind),
 * GLBRIDGE_E_INVALID_DESC, GLBRIDGE_E_LIMIT, GLBRIDGE_E_QUOTA.
 */
GLBRIDGE_API glbridge_status glbridge_create(glbridge_client *client, int memory_fd,
                                             const glbridge_allocation *alloc,
                                             uint32_t sync_count, const uint32_t *sync_kinds,
                                             const int *sync_fds, const void *data,
                                             uint32_t data_len, uint32_t *kmt);

/**
 * glbridge_share (SHARE): makes a new NT handle of this connection for
 * handle (a KMT handle it holds or one of its NT handles) with access
 * (GLBRIDGE_ACCESS_* bits, no more than handle grants) and, when name is
 * not NULL, names it: any connection may then glbridge_open_name it with at
 * most access. name is NUL-terminated UTF-8, 1..255 bytes. *nt receives
 * the new handle (a reference: glbridge_close it), *granted (may be NULL)
 * its access.
 * access may be any Windows access mask (GENERIC_ALL 0x10000000,
 * GENERIC_READ/WRITE, STANDARD_RIGHTS_*, DXGI_SHARED_RESOURCE_READ|WRITE:
 * docs/protocol.md, "Access rights", says what each grants).
 * Errors: GLBRIDGE_E_ACCESS_DENIED (access 0), GLBRIDGE_E_INVALID (bits that are no right),
 * GLBRIDGE_E_ACCESS_DENIED (more than handle grants), GLBRIDGE_E_BAD_NAME
 * (empty, over 255 bytes — found locally — or a forbidden character),
 * GLBRIDGE_E_NAME_TAKEN, GLBRIDGE_E_LIMIT (8 names per resource).
 */
GLBRIDGE_API glbridge_status glbridge_share(glbridge_client *client, uint32_t handle,
                                            uint32_t access, const char *name,
                                            uint32_t *nt, uint32_t *granted);

/**
 * glbridge_open_kmt (OPEN_KMT): opens a live KMT handle (any connection's).
 * The connection holds one more reference through kmt (each open needs
 * its own glbridge_close(kmt)). *rec: record with handle = kmt and access
 * read|write; *fds: new fds, memory then semaphores, owned by the caller.
 * Errors: GLBRIDGE_E_BAD_HANDLE, GLBRIDGE_E_NOT_FOUND, GLBRIDGE_E_LIMIT.
 */
GLBRIDGE_API glbridge_status glbridge_open_kmt(glbridge_client *client, uint32_t kmt,
                                               glbridge_record *rec, glbridge_fds *fds);

/**
 * glbridge_open_name (OPEN_NAME): opens a named resource with access
 * (any rights: a name grants them all, as a named object's default
 * security does on Windows). rec->handle is a new NT handle of this
 * connection (glbridge_close it), one more handle of the named object,
 * which keeps the name alive; *fds as for glbridge_open_kmt.
 * Errors: GLBRIDGE_E_BAD_NAME, GLBRIDGE_E_NOT_FOUND (no such name, or
 * every handle of its named object closed),
 * GLBRIDGE_E_ACCESS_DENIED (access 0), GLBRIDGE_E_INVALID (bits that
 * are no right), GLBRIDGE_E_LIMIT.
 */
GLBRIDGE_API glbridge_status glbridge_open_name(glbridge_client *client, const char *name,
                                                uint32_t access, glbridge_record *rec,
                                                glbridge_fds *fds);

/**
 * glbridge_query (QUERY): the record of handle (any live KMT handle, or an
 * NT handle of this connection), without fds and without taking a
 * reference. Errors: GLBRIDGE_E_BAD_HANDLE, GLBRIDGE_E_NOT_FOUND.
 */
GLBRIDGE_API glbridge_status glbridge_query(glbridge_client *client, uint32_t handle,
                                            glbridge_record *rec);

/**
 * glbridge_update_data (UPDATE_DATA): replaces the private data; only the
 * creator connection may. data may be NULL when data_len is 0.
 * Errors: GLBRIDGE_E_ACCESS_DENIED (not the creator), GLBRIDGE_E_TOO_LARGE.
 */
GLBRIDGE_API glbridge_status glbridge_update_data(glbridge_client *client, uint32_t handle,
                                                  const void *data, uint32_t data_len);

/**
 * glbridge_close (CLOSE): releases one reference: an NT handle is closed,
 * a KMT handle releases one of this connection's creates/opens through it.
 * fds already received stay valid. (Named glbridge_close, not to be
 * confused with glbridge_client_close, which ends the connection.)
 */
GLBRIDGE_API glbridge_status glbridge_close(glbridge_client *client, uint32_t handle);

/** A holder of references, in a LIST entry. */
typedef struct glbridge_holder {
    uint32_t pid, uid, conn_id, refs;
} glbridge_holder;

/** The sync section of a LIST entry (with GLBRIDGE_LIST_SYNC_STATE). */
typedef struct glbridge_sync_state {
    uint32_t sync_count;
    uint32_t mutex_state;         /* 0 free, 1 held, 2 abandoned */
    int32_t holder_pid;           /* 0 unless held */
    uint32_t holder_conn;         /* 0 unless held */
    uint32_t waiters;
    uint64_t last_key;
    uint64_t last_value;
    uint32_t sync_kinds[GLBRIDGE_MAX_SYNC_OBJECTS];
} glbridge_sync_state;

/** One LIST entry. Strings are NUL-terminated (names cannot hold NUL). */
typedef struct glbridge_list_entry {
    uint32_t kmt;
    int32_t creator_pid;
    uint32_t refs;                /* all connections */
    uint32_t data_len;
    uint32_t flags;               /* bit 0: the creator's connection is open */
    glbridge_allocation alloc;
    uint32_t name_count;          /* 0..8 */
    char *names[GLBRIDGE_MAX_NAMES]; /* name_count valid */
    uint32_t holder_count;
    glbridge_holder *holders;     /* holder_count entries (NULL if 0) */
    uint32_t origin_flags;        /* GLBRIDGE_RECORD_SERVICE_ALLOCATED */
    char device_name[256];        /* Vulkan device, "host memory", or "" */
    int has_sync;                 /* 1 when sync is filled in */
    glbridge_sync_state sync;
} glbridge_list_entry;

/**
 * glbridge_list (LIST): every live resource, all pages (each page is a
 * consistent snapshot, the whole listing is not). flags: 0 or
 * GLBRIDGE_LIST_SYNC_STATE. *entries receives a malloc'd array of *count
 * entries (NULL when 0), owned by the caller: free it with
 * glbridge_list_free. Errors: GLBRIDGE_E_ARGUMENT (unknown flags).
 */
GLBRIDGE_API glbridge_status glbridge_list(glbridge_client *client, uint32_t flags,
                                           glbridge_list_entry **entries, size_t *count);

/** Frees what glbridge_list returned. NULL is allowed. */
GLBRIDGE_API void glbridge_list_free(glbridge_list_entry *entries, size_t count);

/**
 * glbridge_attach_sync (ATTACH_SYNC): adds semaphore fd of kind
 * (GLBRIDGE_SYNC_BINARY/_TIMELINE) to a resource this connection created.
 * The caller keeps fd (the broker keeps a copy). *sync_count (may be NULL)
 * receives the resource's new semaphore count.
 * Errors: GLBRIDGE_E_ACCESS_DENIED (not the creator), GLBRIDGE_E_LIMIT
 * (already 2), GLBRIDGE_E_INVALID (kind), GLBRIDGE_E_BAD_FDS (a socket or
 * directory), GLBRIDGE_E_ARGUMENT (fd < 0).
 */
GLBRIDGE_API glbridge_status glbridge_attach_sync(glbridge_client *client, uint32_t handle,
                                                  uint32_t kind, int fd, uint32_t *sync_count);

/**
 * glbridge_acquire_sync (ACQUIRE_SYNC, IDXGIKeyedMutex::AcquireSync):
 * acquires the resource's keyed mutex through handle (a KMT handle this
 * connection holds or one of its NT handles, or the KMT handle of a
 * keyed-mutex object it holds: glbridge_create_keyed_mutex) when it was released with key
 * (or is abandoned), waiting up to timeout_ms (0: only try;
 * GLBRIDGE_INFINITE: for ever). The wait holds the client (see "Threads"
 * at the top): wait on a client of its own. On success *value (may be
 * NULL) is the value of the last release, which the caller's GPU work
 * waits for, and *abandoned (may be NULL) is 1 when the previous holder
 * went without releasing (WAIT_ABANDONED: the contents may be half
 * written), else 0.
 * Errors: GLBRIDGE_E_TIMEOUT (not acquired), GLBRIDGE_E_INVALID (already
 * held or waited for through handle), GLBRIDGE_E_NOT_FOUND (also when the
 * handle is closed while waiting).
 */
GLBRIDGE_API glbridge_status glbridge_acquire_sync(glbridge_client *client, uint32_t handle,
                                                   uint64_t key, uint32_t timeout_ms,
                                                   uint64_t *value, int *abandoned);

/**
 * glbridge_release_sync (RELEASE_SYNC): releases the keyed mutex acquired
 * through handle, to key, reporting value to the next acquirer. On a
 * keyed-mutex object whose sync object is a fence without a semaphore,
 * a value above the fence's raises the fence to it (and wakes its
 * waiters).
 * Errors: GLBRIDGE_E_ACCESS_DENIED (not the holder through this handle).
 */
GLBRIDGE_API glbridge_status glbridge_release_sync(glbridge_client *client, uint32_t handle,
                                                   uint64_t key, uint64_t value);

/*
 * NT handles as Windows handles (docs/protocol.md, "14 DUPLICATE", "15
 * OPEN_DUPLICATE", "16 QUERY_OBJECT"): DuplicateHandle into another
 * process, and NtQueryObject's type and name. They work on the NT handles
 * of resources and of fences alike (a fence's duplicate is redeemed with
 * glbridge_open_fence_duplicate).
 */

/* glbridge_duplicate's options, DuplicateHandle's values. */
#define GLBRIDGE_DUPLICATE_CLOSE_SOURCE 1u /* DUPLICATE_CLOSE_SOURCE: handle is closed once the duplicate is made */
#define GLBRIDGE_DUPLICATE_SAME_ACCESS 2u  /* DUPLICATE_SAME_ACCESS: the source's access mask; access is ignored */

/**
 * glbridge_duplicate (DUPLICATE, DuplicateHandle with a target process):
 * duplicates the NT handle handle of this connection (a KMT handle is
 * GLBRIDGE_E_BAD_HANDLE) for the process target_pid (0: any process the
 * broker admits), with access (a Windows access mask, no more than handle
 * grants) or, with GLBRIDGE_DUPLICATE_SAME_ACCESS in options, handle's own
 * mask. The broker makes a transfer: *token (never 0) is a one-shot token
 * that the target redeems once, with glbridge_open_duplicate (or
 * glbridge_open_fence_duplicate for a fence), within the broker's
 * duplicate timeout (30 s by default); pass it to the target by any
 * channel of your own. The transfer holds a reference to the object until
 * then, even after this connection ends. With
 * GLBRIDGE_DUPLICATE_CLOSE_SOURCE handle is closed, as by glbridge_close,
 * once the transfer is made (a keyed-mutex hold through it is abandoned).
 * *granted and *mask (either may be NULL) receive the rights the new
 * handle will grant (GLBRIDGE_ACCESS_* bits) and the access mask it will
 * have. No fd is involved. Transfers are not restored after a broker
 * restart (the token is then GLBRIDGE_E_NOT_FOUND: duplicate again).
 * Errors: GLBRIDGE_E_BAD_HANDLE (a KMT handle), GLBRIDGE_E_NOT_FOUND,
 * GLBRIDGE_E_ACCESS_DENIED (more than handle grants, or access 0),
 * GLBRIDGE_E_INVALID (bits that are no right), GLBRIDGE_E_BAD_MESSAGE
 * (unknown options), GLBRIDGE_E_LIMIT (64 transfers of this connection, or
 * 4096 of the broker, wait to be redeemed).
 */
GLBRIDGE_API glbridge_status glbridge_duplicate(glbridge_client *client, uint32_t handle,
                                                uint32_t access, uint32_t options,
                                                int32_t target_pid, uint64_t *token,
                                                uint32_t *granted, uint32_t *mask);

/**
 * glbridge_open_duplicate (OPEN_DUPLICATE): redeems a resource's transfer
 * (glbridge_duplicate, by any connection, this one included).
 * rec->handle is a new NT handle of this connection to the source's
 * object (same name, as glbridge_query_object reports), with rec->access
 * the rights it grants; it is independent of the source handle
 * (glbridge_close it). *fds: new fds, memory then semaphores, owned by
 * the caller, as after glbridge_open_name.
 * Errors: GLBRIDGE_E_NOT_FOUND (no such transfer: redeemed already,
 * expired, made up, or of a broker before a restart),
 * GLBRIDGE_E_ACCESS_DENIED (the transfer is for another pid; it stays
 * waiting for it), GLBRIDGE_E_WRONG_TYPE (a fence's: use
 * glbridge_open_fence_duplicate), GLBRIDGE_E_LIMIT.
 */
GLBRIDGE_API glbridge_status glbridge_open_duplicate(glbridge_client *client, uint64_t token,
                                                     glbridge_record *rec, glbridge_fds *fds);

/** What glbridge_query_object learns of an NT handle. Strings are NUL-terminated. */
typedef struct glbridge_object_info {
    uint32_t handle;              /* the handle asked about */
    uint32_t kmt;                 /* its object's KMT handle */
    uint32_t access;              /* rights it grants (GLBRIDGE_ACCESS_*) */
    uint32_t mask;                /* the access mask it was made with */
    char type[GLBRIDGE_MAX_NAME_LEN + 1]; /* "DxgkSharedResource" or "DxgkSharedSyncObject" (a fence) */
    char name[GLBRIDGE_MAX_OBJECT_PATH + 1]; /* \BaseNamedObjects\X or \Sessions\N\BaseNamedObjects\X; "" unnamed */
} glbridge_object_info;

/**
 * glbridge_query_object (QUERY_OBJECT, NtQueryObject): the type, name and
 * access of this connection's NT handle handle (a resource's or a
 * fence's). The name is the full path of the object's name, the leaf as
 * the sharer spelt it: a plain name X shared on any connection (session
 * 1) is \Sessions\1\BaseNamedObjects\X. glbridge_share with a name makes
 * an object of that name; glbridge_open_name, glbridge_open_duplicate and
 * the fence opens by name or duplicate open the same object; a share
 * without a name makes an unnamed one (name ""). No fd is involved.
 * Errors: GLBRIDGE_E_BAD_HANDLE (a KMT handle, as NtQueryObject refuses a
 * D3DKMT handle), GLBRIDGE_E_NOT_FOUND.
 */
GLBRIDGE_API glbridge_status glbridge_query_object(glbridge_client *client, uint32_t handle,
                                                   glbridge_object_info *info);

/**
 * glbridge_set_session (SET_SESSION): moves this connection into session
 * (0..GLBRIDGE_MAX_SESSION), whose directory
 * \Sessions\session\BaseNamedObjects its Local\ and plain names are in
 * from then on (session 0's is the global \BaseNamedObjects);
 * Global\X names are every session's, and a name that spells out
 * \Sessions\N\BaseNamedObjects\X (or Session\N\X) reaches session N's
 * from any session. A connection starts in session 1, where Wine runs a
 * prefix: one broker may so serve several prefixes (or logons) whose
 * local names stay apart. It must come before the connection holds
 * anything (a reference, an NT handle, a fence wait). A reconnecting
 * client sends it again, first, on each new connection (see
 * glbridge_connect_options.reconnect). No fd is involved.
 * Errors: GLBRIDGE_E_INVALID (session above GLBRIDGE_MAX_SESSION — found
 * locally —, or the connection holds something already),
 * GLBRIDGE_E_UNKNOWN_TYPE (an older broker).
 */
GLBRIDGE_API glbridge_status glbridge_set_session(glbridge_client *client, uint32_t session);

/*
 * Shared fences (docs/protocol.md, "17 CREATE_FENCE" ... "22
 * LIST_FENCES"): ID3D11Fence, ID3D12Fence and D3DKMT synchronization
 * objects shared between processes, a 64-bit value one process signals
 * and others wait for. A fence is an object of the broker like a
 * resource: its KMT handle has the same shape, glbridge_share gives it NT
 * handles and names (read lets a handle wait and read the value, write
 * lets it signal), glbridge_close, glbridge_duplicate and
 * glbridge_query_object ("DxgkSharedSyncObject") work on its handles, and
 * it lives while any reference does. The resource calls (glbridge_open_kmt,
 * glbridge_open_name, glbridge_open_duplicate, glbridge_query,
 * glbridge_update_data, glbridge_attach_sync, the keyed mutex) refuse a
 * fence's handle with GLBRIDGE_E_WRONG_TYPE, and the fence calls a
 * resource's; glbridge_list leaves fences out (glbridge_list_fences).
 *
 * A fence has a timeline semaphore fd (the opaque fd vkGetSemaphoreFdKHR
 * exports: the GPU path), which its creator registers and every opener
 * receives a copy of, or none (the broker alone keeps the value: drivers
 * without semaphore fds). With one, the semaphore's value is the fence's
 * value plus offset: GPU work waits for and signals value + offset, and a
 * lowering on the GPU path is glbridge_rebase_fence (the semaphore cannot
 * go down; offset never does). Read offset from any value reply before
 * each GPU wait or signal.
 */

/** A fence's state, as every fence reply reports it. */
typedef struct glbridge_fence_value {
    uint64_t value;               /* the fence's value (GetCompletedValue where the broker keeps it) */
    uint64_t signals;             /* signals the broker saw of the fence (mod 2^64) */
    uint64_t offset;              /* what the timeline semaphore counts above value (0 without a rebase) */
} glbridge_fence_value;

/** An opened fence (glbridge_open_fence_*). name is NUL-terminated. */
typedef struct glbridge_fence {
    uint32_t handle;              /* the handle opened through: the KMT handle, or a new NT handle */
    uint32_t kmt;                 /* the fence's KMT handle */
    uint32_t access;              /* rights of handle (GLBRIDGE_ACCESS_*) */
    uint32_t mask;                /* the access mask it was made with (read|write for a KMT handle) */
    uint32_t sync_kind;           /* GLBRIDGE_SYNC_TIMELINE with a semaphore fd, else GLBRIDGE_SYNC_NONE */
    char name[GLBRIDGE_MAX_OBJECT_PATH + 1]; /* its object's name path, "" for a KMT handle or an unnamed object */
    glbridge_fence_value value;   /* the state when it was opened */
    int service;                  /* 1: a service fence (sync_kind GLBRIDGE_SYNC_TIMELINE), whose CPU
                                     operations the broker does on its semaphore (glbridge_create_fence_service) */
} glbridge_fence;

/**
 * glbridge_create_fence (CREATE_FENCE): registers a fence with value
 * initial. sem_fd is its timeline semaphore, exported as an opaque fd,
 * or -1 for a fence whose value the broker alone keeps. The broker keeps
 * a copy of sem_fd, which it hands to every opener: sem_fd stays the
 * caller's (close it when you like). The connection becomes the creator
 * and holds one reference through *kmt (glbridge_close it).
 * Errors: GLBRIDGE_E_BAD_FDS (sem_fd a socket or a directory),
 * GLBRIDGE_E_LIMIT, GLBRIDGE_E_QUOTA (a fence counts as a resource of 0
 * bytes).
 */
GLBRIDGE_API glbridge_status glbridge_create_fence(glbridge_client *client, uint64_t initial, int sem_fd,
                                                   uint32_t *kmt);

/**
 * glbridge_create_fence_service (CREATE_FENCE with SERVICE): registers a
 * fence with value initial whose timeline semaphore the broker allocates
 * on its helper Vulkan device of driver_uuid and device_uuid (16 bytes
 * each: a GL context's, glbridge_gl_device_uuids), for a process without
 * Vulkan of its own whose GL imports timeline semaphores
 * (GL_EXT_semaphore_fd, GL_NV_timeline_semaphore). *sem_fd receives the
 * semaphore, a new close-on-exec fd owned by the caller: import it into
 * GL (glbridge_gl_import_semaphore, which imports a dup) for GPU waits
 * and signals, and close it. GL has no CPU operations on a semaphore, so
 * the broker does them: glbridge_get_fence and glbridge_wait_fence read
 * the semaphore (less the offset), and glbridge_host_signal_fence signals
 * it. Every opener gets a copy of the fd, and glbridge_fence.service set.
 * The connection becomes the creator and holds one reference through
 * *kmt (glbridge_close it). A reconnecting client restores it with its
 * UUIDs, so that a new broker imports the semaphore again.
 * Errors: GLBRIDGE_E_NO_DEVICE (no Vulkan device of the UUIDs, or no
 * Vulkan), GLBRIDGE_E_NO_SEMAPHORE (the device shares no timeline
 * semaphores as fds, as Mesa 22.3's lavapipe), GLBRIDGE_E_LIMIT,
 * GLBRIDGE_E_QUOTA, GLBRIDGE_E_ARGUMENT (a NULL UUID or output). Nothing
 * is made when it fails (*kmt 0, *sem_fd -1).
 */
GLBRIDGE_API glbridge_status glbridge_create_fence_service(glbridge_client *client, uint64_t initial,
                                                           const uint8_t driver_uuid[16],
                                                           const uint8_t device_uuid[16], uint32_t *kmt,
                                                           int *sem_fd);

/**
 * glbridge_open_fence_kmt (OPEN_FENCE by KMT handle, D3DKMTOpenSyncObject):
 * opens a live fence's KMT handle (any connection's); the connection
 * holds one more reference through kmt (glbridge_close(kmt) each open).
 * *fence describes it (fence->handle = kmt, access read|write). *sem_fd
 * receives a new fd of the fence's timeline semaphore, owned by the
 * caller (close it, or give it to an import that takes it), or -1 for a
 * fence without one (fence->sync_kind GLBRIDGE_SYNC_NONE).
 * Errors: GLBRIDGE_E_BAD_HANDLE (not a KMT handle's shape),
 * GLBRIDGE_E_NOT_FOUND, GLBRIDGE_E_WRONG_TYPE (a resource's), GLBRIDGE_E_LIMIT.
 */
GLBRIDGE_API glbridge_status glbridge_open_fence_kmt(glbridge_client *client, uint32_t kmt,
                                                     glbridge_fence *fence, int *sem_fd);

/**
 * glbridge_open_fence_name (OPEN_FENCE by name,
 * D3DKMTOpenSyncObjectNtHandleFromName, OpenSharedHandleByName): opens the
 * fence shared under name (NUL-terminated UTF-8, 1..255 bytes; names
 * compare case-insensitively, see docs/protocol.md "Names") with access
 * (any rights, as for glbridge_open_name). fence->handle is a new NT handle of
 * this connection (glbridge_close it); *sem_fd as for glbridge_open_fence_kmt.
 * Errors: GLBRIDGE_E_BAD_NAME, GLBRIDGE_E_NOT_FOUND,
 * GLBRIDGE_E_ACCESS_DENIED (access 0),
 * GLBRIDGE_E_INVALID (bits that are no right), GLBRIDGE_E_WRONG_TYPE (a
 * resource's name), GLBRIDGE_E_LIMIT.
 */
GLBRIDGE_API glbridge_status glbridge_open_fence_name(glbridge_client *client, const char *name,
                                                      uint32_t access, glbridge_fence *fence,
                                                      int *sem_fd);

/**
 * glbridge_open_fence_duplicate (OPEN_FENCE by token): redeems a
 * glbridge_duplicate of a fence's NT handle. fence->handle is a new NT
 * handle to the source's object; *sem_fd as for glbridge_open_fence_kmt.
 * Errors: as glbridge_open_duplicate; GLBRIDGE_E_WRONG_TYPE for a
 * resource's transfer (which stays waiting).
 */
GLBRIDGE_API glbridge_status glbridge_open_fence_duplicate(glbridge_client *client, uint64_t token,
                                                           glbridge_fence *fence, int *sem_fd);

/**
 * glbridge_signal_fence (SIGNAL_FENCE, ID3D12Fence::Signal on the CPU):
 * sets the fence's value through handle (a KMT handle this connection
 * holds or one of its NT handles, granting write) to value, lower or
 * higher than the current one (D3D12 allows a lowering, which wakes
 * nobody: waiters for more keep waiting). Every wait for value or less
 * returns. *out (may be NULL) is the state after the signal.
 * Errors: GLBRIDGE_E_ACCESS_DENIED (a handle without write),
 * GLBRIDGE_E_WRONG_TYPE (a resource's handle).
 */
GLBRIDGE_API glbridge_status glbridge_signal_fence(glbridge_client *client, uint32_t handle,
                                                   uint64_t value, glbridge_fence_value *out);

/**
 * glbridge_rebase_fence (SIGNAL_FENCE with REBASE): glbridge_signal_fence
 * for a lowering on the GPU path: the value becomes value and the offset
 * offset (the semaphore's value is value + offset), so that the
 * semaphore, which cannot go down, stays where it is.
 * Errors: as glbridge_signal_fence; GLBRIDGE_E_INVALID (offset below the
 * fence's current offset).
 */
GLBRIDGE_API glbridge_status glbridge_rebase_fence(glbridge_client *client, uint32_t handle,
                                                   uint64_t value, uint64_t offset,
                                                   glbridge_fence_value *out);

/**
 * glbridge_host_signal_fence (SIGNAL_FENCE with HOST): glbridge_signal_fence
 * of a service fence by a process that cannot signal its semaphore
 * itself (GL has no CPU signal): the broker signals the semaphore to
 * value + offset, or, for a value below the current one, raises the
 * offset by the difference instead (the semaphore cannot go down), and
 * sets the value. A process that holds the semaphore in Vulkan signals it
 * itself and calls glbridge_signal_fence. *out (may be NULL) is the
 * state after the signal. No fd is involved.
 * Errors: as glbridge_signal_fence; GLBRIDGE_E_NO_SEMAPHORE (not a
 * service fence: the broker holds no semaphore of it).
 */
GLBRIDGE_API glbridge_status glbridge_host_signal_fence(glbridge_client *client, uint32_t handle,
                                                        uint64_t value, glbridge_fence_value *out);

/**
 * glbridge_wait_fence (WAIT_FENCE): waits in the broker until the fence's
 * value is value or more, for at most timeout_ms (0: only test;
 * GLBRIDGE_INFINITE: for ever), through handle (any access). *out (may be
 * NULL) is the state when it was reached. The wait holds the client, as
 * glbridge_acquire_sync does (see "Threads" at the top): wait on a client
 * of its own, and signal through another. On a reconnecting client a wait
 * the broker's restart interrupts is sent again with what is left of its
 * timeout.
 * Errors: GLBRIDGE_E_TIMEOUT (not reached in time), GLBRIDGE_E_LIMIT (256
 * waits of this connection wait), GLBRIDGE_E_WRONG_TYPE.
 */
GLBRIDGE_API glbridge_status glbridge_wait_fence(glbridge_client *client, uint32_t handle,
                                                 uint64_t value, uint32_t timeout_ms,
                                                 glbridge_fence_value *out);

/**
 * glbridge_get_fence (GET_FENCE): the fence's state through handle (any
 * access) into *out. Errors: GLBRIDGE_E_WRONG_TYPE.
 */
GLBRIDGE_API glbridge_status glbridge_get_fence(glbridge_client *client, uint32_t handle,
                                                glbridge_fence_value *out);

/* glbridge_fence_entry.flags. */
#define GLBRIDGE_FENCE_CREATOR_CONNECTED 1u /* the creator's connection is open */
#define GLBRIDGE_FENCE_TIMELINE 2u          /* the fence has a timeline semaphore */
#define GLBRIDGE_FENCE_SERVICE 4u           /* a service fence (with GLBRIDGE_FENCE_TIMELINE only) */

/** One LIST_FENCES entry. Names are NUL-terminated. */
typedef struct glbridge_fence_entry {
    uint32_t kmt;
    int32_t creator_pid;
    uint32_t refs;                /* all connections, waiting duplicates included */
    uint32_t nt_handles;          /* NT handles to it, all connections */
    uint32_t waiters;             /* glbridge_wait_fence calls waiting */
    uint32_t flags;               /* GLBRIDGE_FENCE_* */
    glbridge_fence_value value;   /* the value the broker keeps */
    uint32_t name_count;          /* 0..8 */
    char *names[GLBRIDGE_MAX_NAMES]; /* name_count valid, as they were shared */
} glbridge_fence_entry;

/**
 * glbridge_list_fences (LIST_FENCES): every live fence, in KMT index
 * order, all pages (each page is a consistent snapshot, the whole listing
 * is not). *entries receives a malloc'd array of *count entries (NULL
 * when 0), owned by the caller: free it with glbridge_list_fences_free.
 */
GLBRIDGE_API glbridge_status glbridge_list_fences(glbridge_client *client, glbridge_fence_entry **entries,
                                                  size_t *count);

/** Frees what glbridge_list_fences returned. NULL is allowed. */
GLBRIDGE_API void glbridge_list_fences_free(glbridge_fence_entry *entries, size_t count);

/*
 * Keyed-mutex objects (docs/protocol.md, "24 CREATE_KEYED_MUTEX", "25
 * OPEN_KEYED_MUTEX"): a D3DKMT keyed mutex as wineserver keeps it
 * (D3DKMTCreateKeyedMutex2, D3DKMTOpenKeyedMutex2), an object with a KMT
 * handle of its own and private runtime data, optionally bound to a
 * resource (whose keyed mutex it then is: glbridge_acquire_sync and
 * glbridge_release_sync through any handle of the resource and through
 * the mutex's own KMT handle act on one mutex, each handle an owner of
 * its own) and to a sync object, a fence. A D3D11 resource's DXGI runtime
 * descriptor records both KMT handles, which is where an opener finds
 * them. It has no NT handles and no names (glbridge_share of it is
 * GLBRIDGE_E_WRONG_TYPE, and so are the resource calls other than the
 * keyed mutex's and the fence calls); glbridge_acquire_sync,
 * glbridge_release_sync and glbridge_close take its KMT handle; it lives
 * while any reference does (the bound resource holds one); glbridge_list
 * leaves it out (glbridge_list_keyed_mutexes). No fd is involved in any
 * of these calls.
 */

/**
 * A keyed-mutex object's record (glbridge_create_keyed_mutex,
 * glbridge_open_keyed_mutex). data is a malloc'd copy of its private
 * runtime data (NULL when data_len is 0), owned by the caller: release it
 * with glbridge_keyed_mutex_free.
 */
typedef struct glbridge_keyed_mutex {
    uint32_t kmt;                 /* its KMT handle, the handle this connection holds it through */
    uint32_t resource;            /* its resource's KMT handle, 0 for a keyed mutex of its own */
    uint32_t sync;                /* its sync object's (a fence's) KMT handle, 0 for none */
    uint32_t data_len;            /* bytes at data */
    void *data;
} glbridge_keyed_mutex;

/** Frees m->data and zeroes *m. NULL is allowed. */
GLBRIDGE_API void glbridge_keyed_mutex_free(glbridge_keyed_mutex *m);

/**
 * glbridge_create_keyed_mutex (CREATE_KEYED_MUTEX, D3DKMTCreateKeyedMutex2):
 * makes a keyed-mutex object with data_len bytes of private data (data
 * may be NULL when data_len is 0; the caller keeps its buffer). resource
 * is 0 for a keyed mutex of its own, or a handle this connection holds to
 * a resource it created (granting write), whose keyed mutex has not been
 * used yet: the object is then that resource's keyed mutex. sync is 0, or
 * a handle this connection holds to a fence, the mutex's sync object:
 * where the fence has no semaphore, each release with a larger value
 * raises it to that value. The connection becomes its creator and holds
 * one reference through out->kmt (glbridge_close it; the bound resource
 * holds one of its own, so it may be closed at once). On success *out is
 * the record (free out->data with glbridge_keyed_mutex_free).
 * Errors: GLBRIDGE_E_ACCESS_DENIED (not the resource's creator, or a
 * handle without write), GLBRIDGE_E_INVALID (the resource has a keyed
 * mutex already, or its mutex was used), GLBRIDGE_E_WRONG_TYPE (resource
 * a fence or a keyed mutex, sync not a fence), GLBRIDGE_E_TOO_LARGE
 * (data_len > 65536, found locally), GLBRIDGE_E_LIMIT, GLBRIDGE_E_QUOTA
 * (it counts as a resource of 0 bytes).
 */
GLBRIDGE_API glbridge_status glbridge_create_keyed_mutex(glbridge_client *client, uint32_t resource,
                                                         uint32_t sync, const void *data, uint32_t data_len,
                                                         glbridge_keyed_mutex *out);

/**
 * glbridge_open_keyed_mutex (OPEN_KEYED_MUTEX, D3DKMTOpenKeyedMutex2):
 * opens the keyed-mutex object of KMT handle kmt (any connection's); the
 * connection holds one more reference through kmt (glbridge_close(kmt)
 * each open). *out: its record, with its resource's and sync object's KMT
 * handles and its private data (free out->data with
 * glbridge_keyed_mutex_free).
 * Errors: GLBRIDGE_E_BAD_HANDLE (not a KMT handle's shape),
 * GLBRIDGE_E_NOT_FOUND (freed, or made up), GLBRIDGE_E_WRONG_TYPE (a
 * resource's or a fence's), GLBRIDGE_E_LIMIT.
 */
GLBRIDGE_API glbridge_status glbridge_open_keyed_mutex(glbridge_client *client, uint32_t kmt,
                                                       glbridge_keyed_mutex *out);

/* glbridge_keyed_mutex_entry.flags. */
#define GLBRIDGE_KEYED_MUTEX_CREATOR_CONNECTED 1u /* the creator's connection is open */

/** One keyed-mutex object, as glbridge_list_keyed_mutexes reports it. */
typedef struct glbridge_keyed_mutex_entry {
    uint32_t kmt;
    uint32_t resource;            /* its resource's KMT handle, 0 for none (or once the resource is gone) */
    uint32_t sync;                /* its sync object's KMT handle, 0 for none */
    int32_t creator_pid;
    uint32_t refs;                /* every reference, the bound resource's included */
    uint32_t waiters;             /* glbridge_acquire_sync calls waiting */
    uint32_t state;               /* 0 free, 1 held, 2 free and abandoned */
    int32_t holder_pid;           /* 0 unless held */
    uint32_t holder_conn;         /* 0 unless held */
    uint32_t events;              /* releases and abandonments (mod 2^32) */
    uint32_t data_len;            /* bytes of its private data */
    uint32_t flags;               /* GLBRIDGE_KEYED_MUTEX_* */
    uint64_t last_key;            /* key of the last release */
    uint64_t last_value;          /* value of the last release */
} glbridge_keyed_mutex_entry;

/**
 * glbridge_list_keyed_mutexes (LIST_FENCES with KEYED_MUTEXES): every
 * live keyed-mutex object, in KMT index order, all pages (each page is a
 * consistent snapshot, the whole listing is not). *entries receives a
 * malloc'd array of *count entries (NULL when 0), owned by the caller:
 * free it with glbridge_list_keyed_mutexes_free.
 */
GLBRIDGE_API glbridge_status glbridge_list_keyed_mutexes(glbridge_client *client,
                                                         glbridge_keyed_mutex_entry **entries, size_t *count);

/** Frees what glbridge_list_keyed_mutexes returned. NULL is allowed. */
GLBRIDGE_API void glbridge_list_keyed_mutexes_free(glbridge_keyed_mutex_entry *entries, size_t count);

/* ===================================================================== */
/* 5. GL helpers                                                          */
/* ===================================================================== */
/*
 * The GL helpers import a record's memory into GL (GL_EXT_memory_object_fd,
 * docs/protocol.md "Importing into GL"), copy host memory to and from a
 * texture of GL's own (the copy path, for host memory and for GLs without
 * GL_EXT_memory_object_fd), and import semaphores (GL_EXT_semaphore_fd,
 * GL_NV_timeline_semaphore).
 *
 * libglbridge never links or loads GL: every GL entry point comes from the
 * get_proc_address function the caller passes to glbridge_gl_init
 * (eglGetProcAddress, glXGetProcAddressARB, SDL_GL_GetProcAddress, ... —
 * wrapped, since those return function pointers and take no user pointer),
 * and lives in the caller's glbridge_gl (no global state). Entry points can
 * be context-specific (WGL) and extensions always are: use a glbridge_gl
 * only with the context it was initialised with (or one sharing its
 * entry points and extensions).
 *
 * Every GL helper must run on the thread where that context is current.
 * The helpers leave the texture/buffer bindings and pixel-store state they
 * touch as they found them, and drain pending GL errors first (glGetError
 * until GL_NO_ERROR), so a GL error they report is their own.
 *
 * Errors of every GL helper: GLBRIDGE_E_ARGUMENT (NULL pointers, a bad
 * fd), GLBRIDGE_E_GL (a GL call raised an error, or made no storage
 * though it raised none), GLBRIDGE_E_GL_UNSUPPORTED (the context lacks
 * the extension or the entry point). glbridge_gl_last_error then says
 * which call failed and how.
 */

/**
 * The caller's proc-address function: returns the entry point called name
 * (a GL function, "glTexStorageMem2DEXT"), or NULL; user is the pointer
 * given to glbridge_gl_init. A function pointer travels as void * (POSIX
 * allows it); convert with memcpy, e.g. for EGL:
 *     static void *gpa(const char *name, void *user) {
 *         void (*f)(void) = eglGetProcAddress(name); void *p;
 *         (void)user; memcpy(&p, &f, sizeof p); return p;
 *     }
 */
typedef void *(*glbridge_get_proc_address_fn)(const char *name, void *user);

/* Slots for resolved entry points (private; the count may grow, with the
   soname, in later versions). */
#define GLBRIDGE_GL_FN_SLOTS 72u

/**
 * glbridge_gl: the GL entry points and extensions of one context, filled
 * in by glbridge_gl_init. The caller allocates it (any storage). Fields
 * other than those documented are private.
 */
typedef struct glbridge_gl {
    int major, minor;             /* the context's GL version */
    int memory_object_fd;         /* 1: GL_EXT_memory_object + GL_EXT_memory_object_fd (import path) */
    int semaphore_fd;             /* 1: GL_EXT_semaphore + GL_EXT_semaphore_fd */
    int timeline_semaphore;       /* 1: GL_NV_timeline_semaphore (and semaphore_fd) */
    int device_uuids;             /* 1: glGetUnsignedBytevEXT/glGetUnsignedBytei_vEXT (GL_EXT_memory_object or GL_EXT_semaphore) */
    char error[256];              /* the last failure's text (see glbridge_gl_last_error) */
    void (*fn[GLBRIDGE_GL_FN_SLOTS])(void); /* private: resolved entry points */
} glbridge_gl;

/**
 * glbridge_gl_init resolves the entry points the helpers use through
 * get_proc_address(name, user) and reads the current context's version
 * and extensions (GL_NUM_EXTENSIONS/glGetStringi, or GL_EXTENSIONS on old
 * contexts). Must run with the context current. The flags above are 1
 * only when the context names the extension AND every entry point the
 * helpers need for it resolved (some proc-address functions return
 * non-NULL for anything, so the extension string decides).
 * Errors: GLBRIDGE_E_ARGUMENT (gl or get_proc_address NULL),
 * GLBRIDGE_E_GL_UNSUPPORTED (glGetString/glGetIntegerv/glGetError missing,
 * or no context current: glGetString(GL_VERSION) is NULL).
 */
GLBRIDGE_API glbridge_status glbridge_gl_init(glbridge_gl *gl,
                                              glbridge_get_proc_address_fn get_proc_address,
                                              void *user);

/** The text of gl's last failure ("" when none); never NULL for a non-NULL gl. */
GLBRIDGE_API const char *glbridge_gl_last_error(const glbridge_gl *gl);

/**
 * glbridge_gl_device_uuids: the context's GL_DRIVER_UUID_EXT and (device
 * 0's) GL_DEVICE_UUID_EXT, 16 bytes each, the UUIDs to ALLOCATE on
 * (glbridge_allocate_params.driver_uuid/device_uuid). Either output may
 * be NULL. Needs gl->device_uuids.
 */
GLBRIDGE_API glbridge_status glbridge_gl_device_uuids(glbridge_gl *gl, uint8_t driver_uuid[16],
                                                      uint8_t device_uuid[16]);

/** A texture the helpers made: imported (memory != 0) or of GL's own. */
typedef struct glbridge_gl_texture {
    uint32_t name;                /* the GL texture */
    uint32_t target;              /* its target (the GL section's) */
    uint32_t memory;              /* the GL memory object behind it, 0 for storage of GL's own */
} glbridge_gl_texture;

/**
 * glbridge_gl_import_texture imports the memory of rec (Vulkan memory,
 * from ALLOCATE, OPEN_KMT, OPEN_NAME) behind fd into a new memory object
 * and makes a texture of it, as docs/protocol.md "Importing into GL" says:
 * GL_DEDICATED_MEMORY_OBJECT_EXT from the dedicated flag,
 * glImportMemoryFdEXT with the Allocation's size, GL_TEXTURE_TILING_EXT
 * from its tiling, the GL section target's glTexStorageMem*EXT call, the
 * swizzle, and (not for multisample targets) NEAREST filtering with
 * GL_TEXTURE_BASE_LEVEL 0 and GL_TEXTURE_MAX_LEVEL levels - 1. It checks
 * GL_TEXTURE_IMMUTABLE_FORMAT after the storage call, since some drivers
 * (Mesa 22.3) refuse an fd without a GL error and make no storage.
 *
 * fd ownership: the caller keeps fd. The library imports a close-on-exec
 * dup, which GL owns after a successful import (and which the library
 * closes when the import fails), so fd may be imported again, into this or
 * another context, and the caller closes it when done. Pipes, sockets,
 * directories, block devices, /dev/null-like devices and regular files
 * smaller than the size are refused before GL sees them (GLBRIDGE_E_ARGUMENT):
 * some drivers block reading a pipe.
 *
 * On success *out holds the texture and its memory object, bound to
 * nothing (the previous binding of the target is restored); release both
 * with glbridge_gl_texture_close. On failure *out is zeroed and nothing
 * is left behind.
 * Errors: GLBRIDGE_E_GL_UNSUPPORTED (no GL_EXT_memory_object_fd),
 * GLBRIDGE_E_UNSUPPORTED_FORMAT (GL section target 0: a buffer — use
 * glbridge_gl_import_buffer — or no GL view), GLBRIDGE_E_ARGUMENT (host
 * memory: use the copy path; a tiling other than 0 or 1; size 0).
 */
GLBRIDGE_API glbridge_status glbridge_gl_import_texture(glbridge_gl *gl, const glbridge_record *rec,
                                                        int fd, glbridge_gl_texture *out);

/**
 * glbridge_gl_texture_close deletes the texture and then (after glFinish,
 * as some drivers free imported memory at once, under pending drawing)
 * its memory object, and zeroes *tex. A zeroed *tex is allowed. With the
 * context current.
 */
GLBRIDGE_API void glbridge_gl_texture_close(glbridge_gl *gl, glbridge_gl_texture *tex);

/** A buffer imported by glbridge_gl_import_buffer. */
typedef struct glbridge_gl_buffer {
    uint32_t name;                /* the GL buffer object */
    uint32_t memory;              /* the GL memory object behind it */
    uint64_t size;                /* the buffer's size: the Desc's width */
} glbridge_gl_buffer;

/**
 * glbridge_gl_import_buffer imports the memory of a buffer record (Desc
 * dimension GLBRIDGE_DIM_BUFFER) behind fd (kept by the caller, as for
 * glbridge_gl_import_texture) and makes a buffer object of desc.width
 * bytes at the Allocation's offset with glBufferStorageMemEXT (bound to
 * GL_COPY_WRITE_BUFFER meanwhile; the binding is restored). The memory is
 * imported with the Allocation's size, which may exceed the buffer
 * (llvmpipe wants its memory 8 bytes bigger: the broker's size already
 * includes that). Checks GL_BUFFER_IMMUTABLE_STORAGE and GL_BUFFER_SIZE
 * afterwards. Release with glbridge_gl_buffer_close.
 * Errors: as for glbridge_gl_import_texture; GLBRIDGE_E_ARGUMENT when the
 * record is not a buffer or the buffer does not fit the memory.
 */
GLBRIDGE_API glbridge_status glbridge_gl_import_buffer(glbridge_gl *gl, const glbridge_record *rec,
                                                       int fd, glbridge_gl_buffer *out);

/** glbridge_gl_buffer_close: like glbridge_gl_texture_close, for a buffer. */
GLBRIDGE_API void glbridge_gl_buffer_close(glbridge_gl *gl, glbridge_gl_buffer *buf);

/*
 * The copy path: host memory (GLBRIDGE_ALLOC_HOST_MEMORY), or a GL without
 * GL_EXT_memory_object_fd. A texture of GL's own is filled from the host
 * memory and written back to it, level by level as the record's level
 * layouts say (docs/protocol.md "Host-memory layout"); the memfd is mapped
 * (MAP_SHARED) for the copy and unmapped after it; fds stay the caller's.
 * Order the copies with other processes' accesses through the keyed
 * mutex: host memory has no semaphores.
 */

/**
 * glbridge_gl_copy_texture_create makes a texture of GL's own of the
 * kind and format of rec's GL section (glTexStorage1D/2D/3D(Multisample)
 * with its target, levels, samples, internal format and extent), with the
 * swizzle and filtering of glbridge_gl_import_texture. out->memory is 0.
 * Release with glbridge_gl_texture_close.
 * Errors: GLBRIDGE_E_UNSUPPORTED_FORMAT (target 0).
 */
GLBRIDGE_API glbridge_status glbridge_gl_copy_texture_create(glbridge_gl *gl, const glbridge_record *rec,
                                                             glbridge_gl_texture *out);

/**
 * glbridge_gl_copy_fill uploads the host memory behind memfd (rec's
 * memory, laid out by rec's level layouts) into tex, every level (and
 * layer, cube face, slice): glTexSubImage* with the GL section's
 * format/type, or glCompressedTexSubImage* with its internal format when
 * format is 0, with GL_UNPACK_ALIGNMENT 1, row length, image height and
 * skips 0 and no pixel unpack buffer (all restored afterwards).
 * tex must have rec's GL section's shape (glbridge_gl_copy_texture_create).
 * Errors: GLBRIDGE_E_UNSUPPORTED_FORMAT (target 0, or no level layouts:
 * multisampled or stencil formats have no host-memory layout),
 * GLBRIDGE_E_ARGUMENT (memfd smaller than the record's size, level layouts
 * out of the memory's bounds, tex's target not the GL section's),
 * GLBRIDGE_E_IO (mmap failed).
 */
GLBRIDGE_API glbridge_status glbridge_gl_copy_fill(glbridge_gl *gl, const glbridge_record *rec,
                                                   int memfd, const glbridge_gl_texture *tex);

/**
 * glbridge_gl_copy_write_back reads every level of tex back into the host
 * memory behind memfd, laid out by rec's level layouts: glGetTexImage
 * (glGetCompressedTexImage) per level, per face for a cube map, with
 * GL_PACK_ALIGNMENT 1, row length, image height and skips 0 and no pixel
 * pack buffer (restored afterwards). glGetTexImage waits for the GL work
 * that writes tex, so the bytes are in the memory when it returns.
 * Errors: as for glbridge_gl_copy_fill.
 */
GLBRIDGE_API glbridge_status glbridge_gl_copy_write_back(glbridge_gl *gl, const glbridge_record *rec,
                                                         int memfd, const glbridge_gl_texture *tex);

/** A semaphore imported by glbridge_gl_import_semaphore. */
typedef struct glbridge_gl_semaphore {
    uint32_t name;                /* the GL semaphore object */
    int timeline;                 /* 1 for a timeline (GL_NV_timeline_semaphore) */
} glbridge_gl_semaphore;

/**
 * glbridge_gl_import_semaphore imports the opaque semaphore fd (a sync fd
 * of a record, of kind GLBRIDGE_SYNC_BINARY with timeline 0 or
 * GLBRIDGE_SYNC_TIMELINE with timeline 1): a timeline is made with
 * glCreateSemaphoresNV and GL_SEMAPHORE_TYPE_NV
 * GL_SEMAPHORE_TYPE_TIMELINE_NV before glImportSemaphoreFdEXT, a binary
 * one with glGenSemaphoresEXT. The caller keeps fd: a close-on-exec dup
 * is imported (GL owns it once imported; the library closes it on
 * failure). Release with glbridge_gl_semaphore_close.
 * Errors: GLBRIDGE_E_GL_UNSUPPORTED (no GL_EXT_semaphore_fd — Mesa 22.3
 * has none —, or a timeline without GL_NV_timeline_semaphore).
 */
GLBRIDGE_API glbridge_status glbridge_gl_import_semaphore(glbridge_gl *gl, int fd, int timeline,
                                                          glbridge_gl_semaphore *out);

/**
 * glbridge_gl_wait_semaphore makes GL's later commands wait for sem
 * (glWaitSemaphoreEXT), for a timeline until it reaches value (set with
 * glSemaphoreParameterui64vEXT(GL_TIMELINE_SEMAPHORE_VALUE_NV) first;
 * value is ignored for a binary semaphore). buffers (buffer_count) and
 * textures (texture_count) are the objects the wait covers; layouts
 * (texture_count entries, the textures' source layouts) may be NULL:
 * GL_LAYOUT_GENERAL_EXT for every texture, the layout glbridge images rest
 * in. At most 64 textures.
 */
GLBRIDGE_API glbridge_status glbridge_gl_wait_semaphore(glbridge_gl *gl, const glbridge_gl_semaphore *sem,
                                                        uint64_t value, uint32_t buffer_count,
                                                        const uint32_t *buffers, uint32_t texture_count,
                                                        const uint32_t *textures, const uint32_t *layouts);

/**
 * glbridge_gl_signal_semaphore signals sem once GL's earlier commands are
 * done (glSignalSemaphoreEXT; a timeline to value), with the textures'
 * destination layouts (NULL: GL_LAYOUT_GENERAL_EXT), then glFlush so the
 * signal reaches the GPU without waiting for the next flush.
 */
GLBRIDGE_API glbridge_status glbridge_gl_signal_semaphore(glbridge_gl *gl, const glbridge_gl_semaphore *sem,
                                                          uint64_t value, uint32_t buffer_count,
                                                          const uint32_t *buffers, uint32_t texture_count,
                                                          const uint32_t *textures, const uint32_t *layouts);

/** glbridge_gl_semaphore_close deletes the semaphore and zeroes *sem (zeroed allowed). */
GLBRIDGE_API void glbridge_gl_semaphore_close(glbridge_gl *gl, glbridge_gl_semaphore *sem);

#ifdef __cplusplus
}
#endif

#endif /* GLBRIDGE_H */
