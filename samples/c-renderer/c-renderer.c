/*
 * c-renderer: the wined3d role in plain C99. A GL renderer with a headless
 * EGL context of its own has the glbridge broker allocate a shared
 * texture, draws frame N of glbridge's test pattern into it with plain GL,
 * and shares it, through libglbridge (its one header; libglbridge calls GL
 * through eglGetProcAddress, which this program hands it). The process
 * never loads Vulkan: the broker's helper device allocated the memory.
 *
 *   c-renderer SOCKET NAME FRAME
 *       ALLOCATEs a 256x192 R8G8B8A8_UNORM 2D texture on GL's driver and
 *       device UUIDs, imports it (GL_EXT_memory_object_fd), draws frame
 *       FRAME of the test pattern into it and SHAREs it under
 *       NAME (read access). Without GL_EXT_memory_object_fd, or with
 *       GLBRIDGE_FORCE_COPY=1 in the environment, the broker allocates host
 *       memory instead, which GL fills through libglbridge's copy path (a
 *       texture of GL's own, written back into the memory). The texture
 *       has a keyed mutex (D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX): the
 *       drawing is bracketed by AcquireSync(0) and ReleaseSync(1). Where GL
 *       has GL_EXT_semaphore_fd and GL_NV_timeline_semaphore (NVIDIA; not
 *       Mesa 22.3) and GLBRIDGE_FORCE_FALLBACK is not 1, the resource has
 *       one timeline semaphore: GL waits on the GPU for the value
 *       AcquireSync returned (if > 0), signals value + 1 after the drawing,
 *       and ReleaseSync passes value + 1 on ("SYNC timeline"); otherwise
 *       it calls glFinish before ReleaseSync(1, 0) ("SYNC fence"). It
 *       prints "SYNC timeline" or "SYNC fence", "NAME name" and
 *       "KMT 0x..." (after the release), then holds the resource until
 *       SIGTERM or SIGINT or the end of its standard input, and exits 0.
 *       Meanwhile it takes the mutex back whenever a reader released it to
 *       key 0 and hands the frame on to key 1 again, so that readers can
 *       follow one another.
 *   c-renderer --read SOCKET KMT FRAME
 *       The consumer: opens KMT, imports it into GL (or, for host memory,
 *       fills a texture of GL's own from it), reads it back with
 *       glGetTexImage and checks every texel against frame FRAME, printing
 *       "OK: all N texels ..." (exit 0) or the first mismatch (exit 1).
 *       A resource with a keyed mutex is read between AcquireSync(1) (60 s
 *       timeout) and ReleaseSync(0) with the value acquired; when its
 *       record has a timeline semaphore, GL imports it and waits on the GPU
 *       for that value first. It prints "SYNC timeline: ...",
 *       "SYNC fence: ..." or "SYNC none: ..." (no keyed mutex).
 *   c-renderer --cycles SOCKET N
 *       N times: ALLOCATEs the texture as above (host memory where the
 *       producer would use it), imports it into GL (or fills a copy
 *       texture from it), deletes the GL objects, closes the fds and
 *       CLOSEs the handle. It counts the entries of /proc/self/fd before
 *       the first cycle and after the last, prints "CYCLES N fds A before
 *       B after", and exits 1 if A and B differ (a leak).
 *   c-renderer --dump W H FRAME
 *       Writes the test pattern's W x H texels of FRAME (RGBA8, rows bottom
 *       first) to standard output: the tests compare them with the Go
 *       testpattern.Expected, so that the C port (testpattern.c) cannot
 *       drift.
 *
 * Any failure exits 1 with a message; a wrong command line exits 2. Before
 * it shares (or reports OK) it checks /proc/self/maps and fails if
 * libvulkan is mapped.
 *
 * Build (make samples does):
 *
 *     make libglbridge
 *     gcc -std=c99 -Wall -Wextra -Werror -O2 -Ilibglbridge/include -o bin/c-renderer \
 *         samples/c-renderer/c-renderer.c samples/c-renderer/testpattern.c \
 *         libglbridge/build/libglbridge.a -lEGL -pthread
 *
 * The frame is drawn into the texture as a render target (a framebuffer
 * object, each rectangle of the pattern a scissored glClear, as
 * testpattern.Draw does), so the texels are exactly testpattern.Expected's.
 * The renderer releases the keyed mutex before it
 * shares the handle, so a consumer that opens the texture without the
 * keyed mutex (samples/consumer) still reads a finished frame once the
 * KMT line is out: on the fence path GL finished; on the timeline path the
 * signal is flushed and the small drawing done long before another process
 * has started and imported the memory (a reader that must be sure waits
 * for the value, as --read does; see samples/keyedmutex for repeated
 * hand-offs).
 */
#define _GNU_SOURCE /* signalfd */
#include "glbridge.h"
#include "testpattern.h"

#include <EGL/egl.h>
#include <EGL/eglext.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define WIDTH 256
#define HEIGHT 192
#define DXGI_FORMAT_R8G8B8A8_UNORM 28u
#define D3D11_BIND_SHADER_RESOURCE 0x8u
#define D3D11_BIND_RENDER_TARGET 0x20u
#define D3D11_RESOURCE_MISC_SHARED 0x2u
#define D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX 0x100u

#define GL_TEXTURE_2D 0x0DE1
#define GL_RGBA 0x1908
#define GL_UNSIGNED_BYTE 0x1401
#define GL_PACK_ALIGNMENT 0x0D05
#define GL_UNPACK_ALIGNMENT 0x0CF5
#define GL_RENDERER 0x1F01

static const char *prog = "c-renderer";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* broker_die reports a failed request with the broker's (or library's) text. */
static void broker_die(glbridge_client *c, const char *what, glbridge_status s)
{
    char text[512] = "";
    if (c)
        glbridge_last_error(c, text, sizeof text);
    /* The client's text already starts with the status's description. */
    die("%s: %s", what, text[0] ? text : glbridge_strerror(s));
}

/* ---- The EGL context and the few GL entry points used here ---- */

static void *gpa(const char *name, void *user)
{
    void (*f)(void) = eglGetProcAddress(name);
    void *p;
    (void)user;
    memcpy(&p, &f, sizeof p);
    return p;
}

#define GL_FRAMEBUFFER 0x8D40
#define GL_COLOR_ATTACHMENT0 0x8CE0
#define GL_FRAMEBUFFER_COMPLETE 0x8CD5
#define GL_SCISSOR_TEST 0x0C11
#define GL_COLOR_BUFFER_BIT 0x00004000

static unsigned (*p_glGetError)(void);
static void (*p_glFinish)(void);
static void (*p_glPixelStorei)(unsigned, int);
static void (*p_glBindTexture)(unsigned, unsigned);
static void (*p_glGetTexImage)(unsigned, int, unsigned, unsigned, void *);
static void (*p_glGenFramebuffers)(int, unsigned *);
static void (*p_glDeleteFramebuffers)(int, const unsigned *);
static void (*p_glBindFramebuffer)(unsigned, unsigned);
static void (*p_glFramebufferTexture2D)(unsigned, unsigned, unsigned, unsigned, int);
static unsigned (*p_glCheckFramebufferStatus)(unsigned);
static void (*p_glViewport)(int, int, int, int);
static void (*p_glScissor)(int, int, int, int);
static void (*p_glEnable)(unsigned);
static void (*p_glDisable)(unsigned);
static void (*p_glClearColor)(float, float, float, float);
static void (*p_glClear)(unsigned);
static const unsigned char *(*p_glGetString)(unsigned);

#define LOAD(var, name)                                                            \
    do {                                                                           \
        void *p_ = gpa(name, NULL);                                                \
        if (p_ == NULL)                                                            \
            die("GL has no %s", name);                                             \
        memcpy(&var, &p_, sizeof p_);                                              \
    } while (0)

struct egl {
    EGLDisplay dpy;
    EGLContext ctx;
};

/* egl_open makes a desktop GL compatibility context on no surface, on the
 * surfaceless platform or else the first EGL device, and makes it current. */
static void egl_open(struct egl *e)
{
    PFNEGLGETPLATFORMDISPLAYEXTPROC get_display;
    const char *client = eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS), *ext;
    static const EGLint attrs[] = {
        EGL_CONTEXT_MAJOR_VERSION, 3, EGL_CONTEXT_MINOR_VERSION, 0,
        EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL_CONTEXT_OPENGL_COMPATIBILITY_PROFILE_BIT, EGL_NONE
    };
    EGLint major, minor;
    if (client == NULL)
        die("EGL has no client extensions (EGL_EXT_client_extensions)");
    LOAD(get_display, "eglGetPlatformDisplayEXT");
    e->dpy = EGL_NO_DISPLAY;
    if (strstr(client, "EGL_MESA_platform_surfaceless"))
        e->dpy = get_display(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY, NULL);
    if (e->dpy == EGL_NO_DISPLAY && strstr(client, "EGL_EXT_platform_device")) {
        PFNEGLQUERYDEVICESEXTPROC query;
        EGLDeviceEXT dev;
        EGLint n = 0;
        LOAD(query, "eglQueryDevicesEXT");
        if (query(1, &dev, &n) && n > 0)
            e->dpy = get_display(EGL_PLATFORM_DEVICE_EXT, dev, NULL);
    }
    if (e->dpy == EGL_NO_DISPLAY)
        die("no headless EGL display (neither EGL_MESA_platform_surfaceless nor EGL_EXT_platform_device)");
    if (!eglInitialize(e->dpy, &major, &minor))
        die("eglInitialize failed (0x%x)", (unsigned)eglGetError());
    ext = eglQueryString(e->dpy, EGL_EXTENSIONS);
    if (ext == NULL || !strstr(ext, "EGL_KHR_surfaceless_context") || !strstr(ext, "EGL_KHR_no_config_context"))
        die("the EGL display lacks EGL_KHR_surfaceless_context or EGL_KHR_no_config_context");
    if (!eglBindAPI(EGL_OPENGL_API))
        die("eglBindAPI(EGL_OPENGL_API) failed (0x%x)", (unsigned)eglGetError());
    e->ctx = eglCreateContext(e->dpy, EGL_NO_CONFIG_KHR, EGL_NO_CONTEXT, attrs);
    if (e->ctx == EGL_NO_CONTEXT)
        die("eglCreateContext (GL 3.0 compatibility) failed (0x%x)", (unsigned)eglGetError());
    if (!eglMakeCurrent(e->dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, e->ctx))
        die("eglMakeCurrent failed (0x%x)", (unsigned)eglGetError());
    LOAD(p_glGetError, "glGetError");
    LOAD(p_glFinish, "glFinish");
    LOAD(p_glPixelStorei, "glPixelStorei");
    LOAD(p_glBindTexture, "glBindTexture");
    LOAD(p_glGetTexImage, "glGetTexImage");
    LOAD(p_glGenFramebuffers, "glGenFramebuffers");
    LOAD(p_glDeleteFramebuffers, "glDeleteFramebuffers");
    LOAD(p_glBindFramebuffer, "glBindFramebuffer");
    LOAD(p_glFramebufferTexture2D, "glFramebufferTexture2D");
    LOAD(p_glCheckFramebufferStatus, "glCheckFramebufferStatus");
    LOAD(p_glViewport, "glViewport");
    LOAD(p_glScissor, "glScissor");
    LOAD(p_glEnable, "glEnable");
    LOAD(p_glDisable, "glDisable");
    LOAD(p_glClearColor, "glClearColor");
    LOAD(p_glClear, "glClear");
    LOAD(p_glGetString, "glGetString");
}

static void egl_close(struct egl *e)
{
    eglMakeCurrent(e->dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
    eglDestroyContext(e->dpy, e->ctx);
    eglTerminate(e->dpy);
    eglReleaseThread();
}

static const char *renderer_name(void)
{
    const unsigned char *s = p_glGetString(GL_RENDERER);
    return s ? (const char *)s : "?";
}

static void check_gl(const char *what)
{
    unsigned err = p_glGetError();
    if (err != 0)
        die("%s: GL error 0x%x", what, err);
}

/* no_vulkan fails if libvulkan is mapped into this process. */
static void no_vulkan(void)
{
    char line[4096];
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        die("/proc/self/maps: %s", strerror(errno));
    while (fgets(line, sizeof line, f))
        if (strstr(line, "libvulkan")) {
            fclose(f);
            die("libvulkan is loaded in this process: %s", line);
        }
    fclose(f);
}

/* clear_rect is tp_rects' painter for draw_pattern: one scissored clear. */
static void clear_rect(void *ctx, int x, int y, int w, int h,
                       unsigned char r, unsigned char g, unsigned char b, unsigned char a)
{
    (void)ctx;
    p_glScissor(x, y, w, h);
    p_glClearColor(r / 255.0f, g / 255.0f, b / 255.0f, a / 255.0f);
    p_glClear(GL_COLOR_BUFFER_BIT);
}

/* draw_pattern draws frame of the test pattern into level 0 of the 2D
 * texture tex through a framebuffer object. */
static void draw_pattern(unsigned tex, int w, int h, int frame)
{
    unsigned fbo = 0;
    p_glGenFramebuffers(1, &fbo);
    p_glBindFramebuffer(GL_FRAMEBUFFER, fbo);
    p_glFramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, tex, 0);
    if (p_glCheckFramebufferStatus(GL_FRAMEBUFFER) != GL_FRAMEBUFFER_COMPLETE)
        die("the shared texture is not a complete render target (status 0x%x)", p_glCheckFramebufferStatus(GL_FRAMEBUFFER));
    p_glViewport(0, 0, w, h);
    p_glEnable(GL_SCISSOR_TEST);
    tp_rects(w, h, frame, clear_rect, NULL);
    p_glDisable(GL_SCISSOR_TEST);
    p_glBindFramebuffer(GL_FRAMEBUFFER, 0);
    p_glDeleteFramebuffers(1, &fbo);
    check_gl("drawing the pattern (glClear into a framebuffer object)");
}

static unsigned char *pattern(int w, int h, int frame)
{
    unsigned char *px = malloc((size_t)w * (size_t)h * 4);
    if (px == NULL)
        die("out of memory");
    tp_expected(px, w, h, frame);
    return px;
}

static long parse_int(const char *s, const char *what, long lo, long hi)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 0);
    if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "%s: %s %s: want an integer in [%ld, %ld]\n", prog, what, s, lo, hi);
        exit(2);
    }
    return v;
}

#define MAX_FRAME 1000000L

/* ---- Holding the resource ---- */

/* Keyed-mutex keys: the renderer writes with key 0 and releases to 1; a
 * reader acquires 1 and releases to 0. */
#define KEY_WRITER 0u
#define KEY_READER 1u

/* wait_for_end returns on SIGTERM, SIGINT (blocked since the start, so
 * none is missed) or the end of standard input. Meanwhile, every 50 ms, it
 * takes the keyed mutex back when a reader has released it to KEY_WRITER
 * and hands the unchanged frame to the next reader (release to KEY_READER
 * with the value the reader released with: it has no new GPU work to wait
 * for), so that any number of readers can read it one after the other. */
static const char *wait_for_end(int sfd, glbridge_client *c, uint32_t kmt, unsigned *handbacks)
{
    struct pollfd p[2];
    char buf[256];
    p[0].fd = sfd;
    p[0].events = POLLIN;
    p[1].fd = 0;
    p[1].events = POLLIN;
    for (;;) {
        int n = poll(p, 2, 50);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("poll: %s", strerror(errno));
        }
        if (n == 0) {
            uint64_t value = 0;
            glbridge_status s = glbridge_acquire_sync(c, kmt, KEY_WRITER, 0, &value, NULL);
            if (s == GLBRIDGE_E_TIMEOUT)
                continue;
            if (s != GLBRIDGE_OK)
                broker_die(c, "ACQUIRE_SYNC (key 0, to hand the frame back)", s);
            s = glbridge_release_sync(c, kmt, KEY_READER, value);
            if (s != GLBRIDGE_OK)
                broker_die(c, "RELEASE_SYNC (key 1)", s);
            ++*handbacks;
            continue;
        }
        if (p[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
                return si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT";
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
            ssize_t r;
            if (p[1].revents & POLLNVAL)
                return "no standard input";
            r = read(0, buf, sizeof buf);
            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
                return "end of standard input";
        }
    }
}

/* ---- Allocating through the broker ---- */

/* fallback_forced: GLBRIDGE_FORCE_FALLBACK=1 keeps to the fence path. */
static int fallback_forced(void)
{
    const char *v = getenv("GLBRIDGE_FORCE_FALLBACK");
    return v != NULL && strcmp(v, "1") == 0;
}

/* allocate has the broker allocate the 256x192 RGBA8 texture with a keyed
 * mutex on GL's UUIDs, or host memory (the copy path) when GL cannot import
 * Vulkan memory or GLBRIDGE_FORCE_COPY=1; returns 1 for host memory, with
 * *why saying why. On Vulkan memory, where GL has GL_EXT_semaphore_fd and
 * GL_NV_timeline_semaphore (and GLBRIDGE_FORCE_FALLBACK is not 1), the
 * resource gets one timeline semaphore (fds->sync[0]) and *timeline is 1. */
static int allocate(glbridge_client *c, glbridge_gl *gl, glbridge_record *rec, glbridge_fds *fds, const char **why,
                    int *timeline)
{
    glbridge_allocate_params p;
    glbridge_status s;
    const char *force = getenv("GLBRIDGE_FORCE_COPY");
    int host;

    memset(&p, 0, sizeof p);
    p.desc.dimension = GLBRIDGE_DIM_TEXTURE2D;
    p.desc.width = WIDTH;
    p.desc.height = HEIGHT;
    p.desc.depth_or_array_size = 1;
    p.desc.mip_levels = 1;
    p.desc.sample_count = 1;
    p.desc.format = DXGI_FORMAT_R8G8B8A8_UNORM;
    p.desc.bind_flags = D3D11_BIND_SHADER_RESOURCE | D3D11_BIND_RENDER_TARGET;
    p.desc.misc_flags = D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX;
    *why = NULL;
    if (force != NULL && strcmp(force, "1") == 0)
        *why = "GLBRIDGE_FORCE_COPY=1";
    else if (!gl->memory_object_fd)
        *why = "GL lacks GL_EXT_memory_object_fd";
    else if (!gl->device_uuids)
        *why = "GL cannot tell its device UUIDs";
    host = *why != NULL;
    *timeline = !host && gl->semaphore_fd && gl->timeline_semaphore && !fallback_forced();
    if (*timeline) {
        p.sync_kind = GLBRIDGE_SYNC_TIMELINE;
        p.sync_count = 1;
    }
    if (host) {
        p.flags = GLBRIDGE_ALLOCATE_HOST_MEMORY;
    } else {
        s = glbridge_gl_device_uuids(gl, p.driver_uuid, p.device_uuid);
        if (s != GLBRIDGE_OK)
            die("glbridge_gl_device_uuids: %s: %s", glbridge_strerror(s), glbridge_gl_last_error(gl));
    }
    s = glbridge_allocate(c, &p, rec, fds);
    if (s != GLBRIDGE_OK)
        broker_die(c, host ? "ALLOCATE (host memory)" : "ALLOCATE (on GL's UUIDs)", s);
    if (!!(rec->alloc.flags & GLBRIDGE_ALLOC_HOST_MEMORY) != host)
        die("the broker allocated %s, asked for %s", host ? "device memory" : "host memory",
            host ? "host memory" : "device memory");
    if (rec->gl.target != GL_TEXTURE_2D || rec->gl.width != WIDTH || rec->gl.height != HEIGHT)
        die("the record's GL view is target 0x%x %ux%u, want a %dx%d GL_TEXTURE_2D", rec->gl.target,
            rec->gl.width, rec->gl.height, WIDTH, HEIGHT);
    if (*timeline && (rec->sync_count != 1 || rec->sync_kinds[0] != GLBRIDGE_SYNC_TIMELINE || fds->sync[0] < 0))
        die("asked for one timeline semaphore, the broker gave %u sync object(s) (kind %u)", rec->sync_count,
            rec->sync_count ? rec->sync_kinds[0] : 0u);
    return host;
}

/* ---- The producer: allocate, draw, share, hold ---- */

static int produce(const char *sock, const char *name, int frame)
{
    struct egl e;
    glbridge_gl gl;
    glbridge_client *c = NULL;
    glbridge_record rec;
    glbridge_fds fds;
    glbridge_gl_texture tex;
    glbridge_gl_semaphore sem;
    glbridge_status s;
    const char *why = NULL, *ended;
    uint32_t nt, granted;
    uint64_t value = 0;
    unsigned handbacks = 0;
    sigset_t sigs;
    int sfd, host, timeline, abandoned = 0;

    /* Block the signals that end the program before the resource exists,
     * so that one cannot kill it without it letting go. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    if (sigprocmask(SIG_BLOCK, &sigs, NULL) != 0 || (sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0)
        die("signalfd: %s", strerror(errno));

    /* Connect first: without a broker there is nobody to share with. */
    s = glbridge_connect(sock, &c);
    if (s != GLBRIDGE_OK)
        die("cannot connect to the broker at %s: %s (is `glshare serve` running?)", sock, glbridge_strerror(s));
    egl_open(&e);
    s = glbridge_gl_init(&gl, gpa, NULL);
    if (s != GLBRIDGE_OK)
        die("glbridge_gl_init: %s: %s", glbridge_strerror(s), glbridge_gl_last_error(&gl));

    host = allocate(c, &gl, &rec, &fds, &why, &timeline);

    s = host ? glbridge_gl_copy_texture_create(&gl, &rec, &tex)
             : glbridge_gl_import_texture(&gl, &rec, fds.memory, &tex);
    if (s != GLBRIDGE_OK)
        die("%s: %s: %s", host ? "glbridge_gl_copy_texture_create" : "glbridge_gl_import_texture",
            glbridge_strerror(s), glbridge_gl_last_error(&gl));
    memset(&sem, 0, sizeof sem);
    if (timeline) {
        s = glbridge_gl_import_semaphore(&gl, fds.sync[0], 1, &sem);
        if (s != GLBRIDGE_OK)
            die("glbridge_gl_import_semaphore: %s: %s", glbridge_strerror(s), glbridge_gl_last_error(&gl));
    }

    /* The write, bracketed by the keyed mutex: a fresh resource counts as
     * released with key 0. The value is the timeline value the previous
     * holder's GPU work signals (0: none). */
    s = glbridge_acquire_sync(c, rec.kmt, KEY_WRITER, 60000, &value, &abandoned);
    if (s != GLBRIDGE_OK)
        broker_die(c, "ACQUIRE_SYNC (key 0)", s);
    if (timeline && value > 0) {
        s = glbridge_gl_wait_semaphore(&gl, &sem, value, 0, NULL, 1, &tex.name, NULL);
        if (s != GLBRIDGE_OK)
            die("glbridge_gl_wait_semaphore: %s: %s", glbridge_strerror(s), glbridge_gl_last_error(&gl));
    }

    /* Draw frame into the texture as a render target, as wined3d renders
     * into a shared D3D texture: each rectangle of the pattern is a
     * scissored glClear (exact 8-bit colours), as testpattern.Draw does. */
    draw_pattern(tex.name, WIDTH, HEIGHT, frame);
    if (timeline) {
        /* The GPU signals value + 1 once the drawing is done (the helper
         * flushes); the next acquirer's GPU waits for it. */
        value++;
        s = glbridge_gl_signal_semaphore(&gl, &sem, value, 0, NULL, 1, &tex.name, NULL);
        if (s != GLBRIDGE_OK)
            die("glbridge_gl_signal_semaphore: %s: %s", glbridge_strerror(s), glbridge_gl_last_error(&gl));
    } else {
        /* The fence path: the drawing is complete before the release. */
        p_glFinish();
        value = 0;
    }
    if (host) {
        s = glbridge_gl_copy_write_back(&gl, &rec, fds.memory, &tex);
        if (s != GLBRIDGE_OK)
            die("glbridge_gl_copy_write_back: %s: %s", glbridge_strerror(s), glbridge_gl_last_error(&gl));
    }
    s = glbridge_release_sync(c, rec.kmt, KEY_READER, value);
    if (s != GLBRIDGE_OK)
        broker_die(c, "RELEASE_SYNC (key 1)", s);
    no_vulkan();

    s = glbridge_share(c, rec.kmt, GLBRIDGE_ACCESS_READ, name, &nt, &granted);
    if (s != GLBRIDGE_OK)
        broker_die(c, "SHARE", s);
    printf("c-renderer: GL \"%s\" (GL_EXT_semaphore_fd %d, GL_NV_timeline_semaphore %d) drew frame %d (%dx%d R8G8B8A8_UNORM) into %s (%s%s), %llu bytes; no libvulkan loaded\n",
           renderer_name(), gl.semaphore_fd, gl.timeline_semaphore, frame, WIDTH, HEIGHT,
           host ? "host memory the broker allocated" : "Vulkan memory the broker allocated on GL's UUIDs",
           host ? "copy path: " : "zero-copy", host ? why : "", (unsigned long long)rec.alloc.size);
    if (timeline)
        printf("c-renderer: keyed mutex: acquired key 0 (value %llu), GPU signals timeline value %llu after the drawing, released to key 1 with it\n",
               (unsigned long long)(value - 1), (unsigned long long)value);
    else
        printf("c-renderer: keyed mutex: acquired key 0, glFinish after the drawing, released to key 1 with value 0%s\n",
               host ? " (host memory has no semaphores)"
                    : fallback_forced() ? " (GLBRIDGE_FORCE_FALLBACK=1)"
                    : !gl.semaphore_fd ? " (GL lacks GL_EXT_semaphore_fd)"
                                       : " (GL lacks GL_NV_timeline_semaphore)");
    if (abandoned)
        printf("c-renderer: the keyed mutex was abandoned by its previous holder\n");
    printf("SYNC %s\n", timeline ? "timeline" : "fence");
    printf("NAME %s\n", name);
    printf("KMT 0x%08x\n", rec.kmt);
    fflush(stdout);

    ended = wait_for_end(sfd, c, rec.kmt, &handbacks);
    if (timeline) /* the readers' GPUs may still read; only GL's own work is ordered by glFinish */
        p_glFinish();
    glbridge_gl_semaphore_close(&gl, &sem);
    glbridge_gl_texture_close(&gl, &tex);
    egl_close(&e);
    s = glbridge_close(c, nt);
    if (s == GLBRIDGE_OK)
        s = glbridge_close(c, rec.kmt);
    if (s != GLBRIDGE_OK)
        broker_die(c, "CLOSE", s);
    printf("c-renderer: handed the frame back to readers %u time(s)\n", handbacks);
    printf("c-renderer: %s: released 0x%08x\n", ended, rec.kmt);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    glbridge_client_close(c);
    close(sfd);
    return 0;
}

/* ---- The consumer: open, import (or copy), read back, check ---- */

static int consume(const char *sock, uint32_t kmt, int frame)
{
    struct egl e;
    glbridge_gl gl;
    glbridge_client *c = NULL;
    glbridge_record rec;
    glbridge_fds fds;
    glbridge_gl_texture tex;
    glbridge_gl_semaphore sem;
    glbridge_status s;
    unsigned char *got, *want;
    size_t i, n, bad = 0, first = 0;
    uint64_t value = 0;
    char sync[160];
    int w, h, host, keyed, timeline, abandoned = 0;

    s = glbridge_connect(sock, &c);
    if (s != GLBRIDGE_OK)
        die("cannot connect to the broker at %s: %s (is `glshare serve` running?)", sock, glbridge_strerror(s));
    s = glbridge_open_kmt(c, kmt, &rec, &fds);
    if (s != GLBRIDGE_OK) {
        char what[64];
        snprintf(what, sizeof what, "OPEN_KMT 0x%08x", kmt);
        broker_die(c, what, s);
    }
    if (rec.alloc.desc.dimension != GLBRIDGE_DIM_TEXTURE2D || rec.alloc.desc.format != DXGI_FORMAT_R8G8B8A8_UNORM ||
        rec.gl.target != GL_TEXTURE_2D)
        die("this sample checks R8G8B8A8_UNORM 2D textures; 0x%08x has dimension %u, format %u, GL target 0x%x", kmt,
            rec.alloc.desc.dimension, rec.alloc.desc.format, rec.gl.target);
    w = (int)rec.alloc.desc.width;
    h = (int)rec.alloc.desc.height;
    host = (rec.alloc.flags & GLBRIDGE_ALLOC_HOST_MEMORY) != 0;
    keyed = (rec.alloc.desc.misc_flags & D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX) != 0;
    timeline = keyed && rec.sync_count > 0 && rec.sync_kinds[0] == GLBRIDGE_SYNC_TIMELINE;
    egl_open(&e);
    s = glbridge_gl_init(&gl, gpa, NULL);
    if (s != GLBRIDGE_OK)
        die("glbridge_gl_init: %s: %s", glbridge_strerror(s), glbridge_gl_last_error(&gl));
    if (timeline && !gl.timeline_semaphore)
        die("0x%08x has a timeline semaphore and GL lacks GL_EXT_semaphore_fd or GL_NV_timeline_semaphore to wait for it", kmt);
    /* A resource with a keyed mutex (D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX)
     * is read between AcquireSync(1) and ReleaseSync(0), through the handle
     * this connection opened; the copy path's fill reads the memory too, so
     * the acquire comes first. Without one, the writer finished before it
     * shared the handle. */
    if (keyed) {
        s = glbridge_acquire_sync(c, rec.handle, KEY_READER, 60000, &value, &abandoned);
        if (s != GLBRIDGE_OK)
            broker_die(c, "ACQUIRE_SYNC (key 1)", s);
    }
    if (host) {
        s = glbridge_gl_copy_texture_create(&gl, &rec, &tex);
        if (s == GLBRIDGE_OK && (s = glbridge_gl_copy_fill(&gl, &rec, fds.memory, &tex)) != GLBRIDGE_OK)
            glbridge_gl_texture_close(&gl, &tex);
    } else {
        if (!gl.memory_object_fd)
            die("0x%08x is Vulkan memory and GL lacks GL_EXT_memory_object_fd to import it", kmt);
        s = glbridge_gl_import_texture(&gl, &rec, fds.memory, &tex);
    }
    if (s != GLBRIDGE_OK)
        die("%s: %s: %s", host ? "the copy path" : "glbridge_gl_import_texture", glbridge_strerror(s),
            glbridge_gl_last_error(&gl));
    memset(&sem, 0, sizeof sem);
    if (timeline) {
        s = glbridge_gl_import_semaphore(&gl, fds.sync[0], 1, &sem);
        if (s != GLBRIDGE_OK)
            die("glbridge_gl_import_semaphore: %s: %s", glbridge_strerror(s), glbridge_gl_last_error(&gl));
        if (value > 0) {
            s = glbridge_gl_wait_semaphore(&gl, &sem, value, 0, NULL, 1, &tex.name, NULL);
            if (s != GLBRIDGE_OK)
                die("glbridge_gl_wait_semaphore: %s: %s", glbridge_strerror(s), glbridge_gl_last_error(&gl));
        }
    }

    n = (size_t)w * (size_t)h * 4;
    got = malloc(n);
    if (got == NULL)
        die("out of memory");
    memset(got, 0xEE, n);
    p_glBindTexture(GL_TEXTURE_2D, tex.name);
    p_glPixelStorei(GL_PACK_ALIGNMENT, 1);
    p_glGetTexImage(GL_TEXTURE_2D, 0, GL_RGBA, GL_UNSIGNED_BYTE, got);
    p_glPixelStorei(GL_PACK_ALIGNMENT, 4);
    p_glBindTexture(GL_TEXTURE_2D, 0);
    check_gl("glGetTexImage");
    /* glGetTexImage returned the texels: the read is over. Release before
     * checking, so that a mismatch does not abandon the mutex. */
    if (keyed) {
        s = glbridge_release_sync(c, rec.handle, KEY_WRITER, value);
        if (s != GLBRIDGE_OK)
            broker_die(c, "RELEASE_SYNC (key 0)", s);
    }
    if (timeline)
        snprintf(sync, sizeof sync, "SYNC timeline: keyed mutex key 1, GPU waited for timeline value %llu, released to key 0",
                 (unsigned long long)value);
    else if (keyed)
        snprintf(sync, sizeof sync, "SYNC fence: keyed mutex key 1 (value %llu), released to key 0", (unsigned long long)value);
    else
        snprintf(sync, sizeof sync, "SYNC none: no keyed mutex (the writer finished before it shared)");
    printf("%s%s\n", sync, abandoned ? " (the mutex was abandoned by its previous holder)" : "");
    want = pattern(w, h, frame);
    for (i = 0; i < n; i += 4)
        if (memcmp(got + i, want + i, 4) != 0 && bad++ == 0)
            first = i;
    no_vulkan();
    if (bad) {
        fprintf(stderr,
                "%s: MISMATCH: %zu of %zu texels of 0x%08x differ from frame %d of the test pattern; the first, "
                "(%zu,%zu), is %u,%u,%u,%u, want %u,%u,%u,%u\n",
                prog, bad, n / 4, kmt, frame, first / 4 % (size_t)w, first / 4 / (size_t)w, got[first],
                got[first + 1], got[first + 2], got[first + 3], want[first], want[first + 1], want[first + 2],
                want[first + 3]);
        return 1;
    }
    printf("OK: all %zu texels of KMT 0x%08x read through GL \"%s\" (%s) are frame %d of the test pattern; no libvulkan loaded\n",
           n / 4, kmt, renderer_name(), host ? "host memory, copy path" : "zero-copy import", frame);
    free(got);
    free(want);
    glbridge_gl_semaphore_close(&gl, &sem);
    glbridge_gl_texture_close(&gl, &tex);
    egl_close(&e);
    glbridge_fds_close(&fds);
    glbridge_close(c, rec.handle);
    glbridge_record_free(&rec);
    glbridge_client_close(c);
    return 0;
}

/* ---- --cycles: allocate, import, close, N times; no fd may stay ---- */

/* count_fds counts the entries of /proc/self/fd (the directory's own fd
 * included, once, both times). */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;
    if (d == NULL)
        die("/proc/self/fd: %s", strerror(errno));
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static int cycles(const char *sock, long n)
{
    struct egl e;
    glbridge_gl gl;
    glbridge_client *c = NULL;
    glbridge_status s;
    const char *why = NULL;
    long i;
    int before, after, host = 0, timeline = 0;

    s = glbridge_connect(sock, &c);
    if (s != GLBRIDGE_OK)
        die("cannot connect to the broker at %s: %s (is `glshare serve` running?)", sock, glbridge_strerror(s));
    egl_open(&e);
    s = glbridge_gl_init(&gl, gpa, NULL);
    if (s != GLBRIDGE_OK)
        die("glbridge_gl_init: %s: %s", glbridge_strerror(s), glbridge_gl_last_error(&gl));
    before = count_fds();
    for (i = 0; i < n; i++) {
        glbridge_record rec;
        glbridge_fds fds;
        glbridge_gl_texture tex;
        glbridge_gl_semaphore sem;
        host = allocate(c, &gl, &rec, &fds, &why, &timeline);
        if (host) {
            s = glbridge_gl_copy_texture_create(&gl, &rec, &tex);
            if (s == GLBRIDGE_OK && (s = glbridge_gl_copy_fill(&gl, &rec, fds.memory, &tex)) != GLBRIDGE_OK)
                glbridge_gl_texture_close(&gl, &tex);
        } else {
            s = glbridge_gl_import_texture(&gl, &rec, fds.memory, &tex);
        }
        if (s != GLBRIDGE_OK)
            die("cycle %ld: %s: %s: %s", i, host ? "the copy path" : "glbridge_gl_import_texture",
                glbridge_strerror(s), glbridge_gl_last_error(&gl));
        if (timeline) {
            s = glbridge_gl_import_semaphore(&gl, fds.sync[0], 1, &sem);
            if (s != GLBRIDGE_OK)
                die("cycle %ld: glbridge_gl_import_semaphore: %s: %s", i, glbridge_strerror(s), glbridge_gl_last_error(&gl));
            glbridge_gl_semaphore_close(&gl, &sem);
        }
        glbridge_gl_texture_close(&gl, &tex);
        glbridge_fds_close(&fds);
        s = glbridge_close(c, rec.kmt);
        if (s != GLBRIDGE_OK)
            broker_die(c, "CLOSE", s);
        glbridge_record_free(&rec);
    }
    after = count_fds();
    no_vulkan();
    printf("c-renderer: %ld cycles of ALLOCATE, %s%s, close and CLOSE through GL \"%s\"%s%s\n", n,
           host ? "copy texture filled from host memory" : "zero-copy import",
           timeline ? " and timeline semaphore import" : "", renderer_name(),
           host ? ": copy path: " : "", host ? why : "");
    printf("CYCLES %ld fds %d before %d after\n", n, before, after);
    egl_close(&e);
    glbridge_client_close(c);
    if (before != after) {
        fprintf(stderr, "%s: %d fds leaked in %ld cycles\n", prog, after - before, n);
        return 1;
    }
    return 0;
}

/* ---- --dump ---- */

static int dump(int w, int h, int frame)
{
    unsigned char *px = pattern(w, h, frame);
    size_t n = (size_t)w * (size_t)h * 4;
    if (fwrite(px, 1, n, stdout) != n || fflush(stdout) != 0)
        die("writing the texels: %s", strerror(errno));
    free(px);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: %s SOCKET NAME FRAME          allocate, draw FRAME, share as NAME, hold until SIGTERM/EOF\n"
            "       %s --read SOCKET KMT FRAME    open KMT into GL and check every texel of FRAME\n"
            "       %s --cycles SOCKET N          allocate, import and close N textures; fail if an fd stays\n"
            "       %s --dump W H FRAME           write the test pattern's texels (RGBA8) to stdout\n",
            prog, prog, prog, prog);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--read") == 0) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        return consume(argv[2], (uint32_t)parse_int(argv[3], "KMT", 0, 0xffffffffL),
                       (int)parse_int(argv[4], "FRAME", 0, MAX_FRAME));
    }
    if (argc == 4 && strcmp(argv[1], "--cycles") == 0) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        return cycles(argv[2], parse_int(argv[3], "N", 1, 1000000L));
    }
    if (argc == 5 && strcmp(argv[1], "--dump") == 0)
        return dump((int)parse_int(argv[2], "W", 1, 16384), (int)parse_int(argv[3], "H", 1, 16384),
                    (int)parse_int(argv[4], "FRAME", 0, MAX_FRAME));
    if (argc == 4 && argv[1][0] != '-') {
        setvbuf(stdout, NULL, _IOLBF, 0);
        return produce(argv[1], argv[2], (int)parse_int(argv[3], "FRAME", 0, MAX_FRAME));
    }
    usage();
    return 2;
}
