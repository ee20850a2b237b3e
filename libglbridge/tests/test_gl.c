/*
 * Tests of libglbridge's GL helpers against a real broker (glshare serve),
 * across processes, on a headless EGL context the TEST makes (the library
 * never links GL): device ALLOCATE on GL's UUIDs + import (2D with mips,
 * cube with mips, 2D array, 3D), read back exactly in another process;
 * host memory + the copy path; buffers; semaphores unsupported on Mesa 22.3.
 * Usage: test_gl PATH/TO/glshare   (children: test_gl child-... re-exec'd)
 */
#define _GNU_SOURCE
#include "glbridge.h"

#include <EGL/egl.h>
#include <EGL/eglext.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *glshare;
static char tmpdir[] = "/tmp/libglbridge-gl-XXXXXX";
static char sock[300];
static char self_exe[4096];

#include "check.h"

#define CHECK_GL(gl, expr, want)                                                   \
    do {                                                                           \
        glbridge_status s_ = (expr);                                               \
        if (s_ != (want))                                                          \
            FAIL("%s: got %d (%s) [%s], want %d (%s)", #expr, (int)s_,             \
                 glbridge_strerror(s_), glbridge_gl_last_error(gl), (int)(want),   \
                 glbridge_strerror(want));                                         \
    } while (0)

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    CHECK(d != NULL);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;
}

/* ---- the test's own EGL context and GL entry points ---- */

static void *gpa(const char *name, void *user)
{
    void (*f)(void) = eglGetProcAddress(name);
    void *p;
    (void)user;
    memcpy(&p, &f, sizeof p);
    return p;
}

#define LOAD(var, name) do { void *p_ = gpa(name, NULL); CHECK(p_ != NULL); memcpy(&var, &p_, sizeof p_); } while (0)

static unsigned (*t_glGetError)(void);
static void (*t_glFinish)(void);
static void (*t_glPixelStorei)(unsigned, int);
static void (*t_glBindTexture)(unsigned, unsigned);
static void (*t_glTexSubImage1D)(unsigned, int, int, int, unsigned, unsigned, const void *);
static void (*t_glTexSubImage2D)(unsigned, int, int, int, int, int, unsigned, unsigned, const void *);
static void (*t_glTexSubImage3D)(unsigned, int, int, int, int, int, int, int, unsigned, unsigned, const void *);
static void (*t_glGetTexImage)(unsigned, int, unsigned, unsigned, void *);
static void (*t_glBindBuffer)(unsigned, unsigned);
static void (*t_glBufferSubData)(unsigned, ptrdiff_t, ptrdiff_t, const void *);
static void (*t_glGetBufferSubData)(unsigned, ptrdiff_t, ptrdiff_t, void *);
static const char *(*t_glGetString)(unsigned);

struct egl {
    EGLDisplay dpy;
    EGLContext ctx;
};

static void egl_open(struct egl *e)
{
    PFNEGLGETPLATFORMDISPLAYEXTPROC get_display;
    const char *client = eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);
    static const EGLint attrs[] = {
        EGL_CONTEXT_MAJOR_VERSION, 3, EGL_CONTEXT_MINOR_VERSION, 0,
        EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL_CONTEXT_OPENGL_COMPATIBILITY_PROFILE_BIT, EGL_NONE
    };
    EGLint major, minor;
    CHECK(client != NULL);
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
    CHECK(e->dpy != EGL_NO_DISPLAY);
    CHECK(eglInitialize(e->dpy, &major, &minor));
    CHECK(strstr(eglQueryString(e->dpy, EGL_EXTENSIONS), "EGL_KHR_surfaceless_context") != NULL);
    CHECK(strstr(eglQueryString(e->dpy, EGL_EXTENSIONS), "EGL_KHR_no_config_context") != NULL);
    CHECK(eglBindAPI(EGL_OPENGL_API));
    e->ctx = eglCreateContext(e->dpy, EGL_NO_CONFIG_KHR, EGL_NO_CONTEXT, attrs);
    CHECK(e->ctx != EGL_NO_CONTEXT);
    CHECK(eglMakeCurrent(e->dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, e->ctx));
    LOAD(t_glGetError, "glGetError");
    LOAD(t_glFinish, "glFinish");
    LOAD(t_glPixelStorei, "glPixelStorei");
    LOAD(t_glBindTexture, "glBindTexture");
    LOAD(t_glTexSubImage1D, "glTexSubImage1D");
    LOAD(t_glTexSubImage2D, "glTexSubImage2D");
    LOAD(t_glTexSubImage3D, "glTexSubImage3D");
    LOAD(t_glGetTexImage, "glGetTexImage");
    LOAD(t_glBindBuffer, "glBindBuffer");
    LOAD(t_glBufferSubData, "glBufferSubData");
    LOAD(t_glGetBufferSubData, "glGetBufferSubData");
    LOAD(t_glGetString, "glGetString");
}

static void egl_close(struct egl *e)
{
    eglMakeCurrent(e->dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
    eglDestroyContext(e->dpy, e->ctx);
    eglTerminate(e->dpy);
    eglReleaseThread();
}

/* ---- broker ---- */

static pid_t broker_pid;

static void broker_start(void)
{
    char log[400];
    int i;
    snprintf(sock, sizeof sock, "%s/gl.sock", tmpdir);
    snprintf(log, sizeof log, "%s/gl.log", tmpdir);
    broker_pid = fork();
    CHECK(broker_pid >= 0);
    if (broker_pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(glshare, "glshare", "serve", "--socket", sock, (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 1200; i++) {
        glbridge_client *c;
        int st;
        if (glbridge_connect(sock, &c) == GLBRIDGE_OK) {
            glbridge_client_close(c);
            return;
        }
        if (waitpid(broker_pid, &st, WNOHANG) == broker_pid)
            FAIL("broker exited (see %s)", log);
        usleep(100000);
    }
    FAIL("broker does not answer on %s", sock);
}

static glbridge_client *connect_broker(void)
{
    glbridge_client *c = NULL;
    CHECK_ST(NULL, glbridge_connect(sock, &c), GLBRIDGE_OK);
    return c;
}

/* run_child re-executes this program as a child with its own EGL context. */
static void run_child(const char *mode, const char *name, int kind)
{
    char k[16];
    pid_t pid;
    int st;
    snprintf(k, sizeof k, "%d", kind);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        execl(self_exe, self_exe, mode, sock, name, k, (char *)NULL);
        _exit(127);
    }
    CHECK(waitpid(pid, &st, 0) == pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        FAIL("child %s %s %d failed (status 0x%x)", mode, name, kind, st);
}

/* ---- shapes ---- */

#define GL_RGBA 0x1908
#define GL_UNSIGNED_BYTE 0x1401
#define GL_TEXTURE_2D 0x0DE1
#define GL_TEXTURE_3D 0x806F
#define GL_TEXTURE_2D_ARRAY 0x8C1A
#define GL_TEXTURE_CUBE_MAP 0x8513
#define GL_TEXTURE_CUBE_MAP_POSITIVE_X 0x8515
#define GL_PACK_ALIGNMENT 0x0D05
#define GL_UNPACK_ALIGNMENT 0x0CF5
#define GL_COPY_WRITE_BUFFER 0x8F37

#define GL_TEXTURE_1D 0x0DE0
#define GL_TEXTURE_1D_ARRAY 0x8C18
#define GL_TEXTURE_CUBE_MAP_ARRAY 0x9009

enum { K_2D, K_CUBE, K_ARRAY, K_3D, K_1D, K_1D_ARRAY, K_CUBE_ARRAY, K_COUNT };

static glbridge_desc desc_of(int kind)
{
    glbridge_desc d;
    memset(&d, 0, sizeof d);
    d.sample_count = 1;
    d.format = 28; /* R8G8B8A8_UNORM */
    d.bind_flags = 0x8;
    switch (kind) {
    case K_2D: d.dimension = GLBRIDGE_DIM_TEXTURE2D; d.width = 67; d.height = 33; d.depth_or_array_size = 1; d.mip_levels = 3; break;
    case K_CUBE: d.dimension = GLBRIDGE_DIM_TEXTURECUBE; d.width = 16; d.height = 16; d.depth_or_array_size = 1; d.mip_levels = 3;
        d.misc_flags = 0x4; /* TEXTURECUBE */ break;
    case K_ARRAY: d.dimension = GLBRIDGE_DIM_TEXTURE2D; d.width = 20; d.height = 12; d.depth_or_array_size = 3; d.mip_levels = 2; break;
    case K_3D: d.dimension = GLBRIDGE_DIM_TEXTURE3D; d.width = 9; d.height = 6; d.depth_or_array_size = 5; d.mip_levels = 2; break;
    case K_1D: d.dimension = GLBRIDGE_DIM_TEXTURE1D; d.width = 37; d.height = 1; d.depth_or_array_size = 1; d.mip_levels = 3; break;
    case K_1D_ARRAY: d.dimension = GLBRIDGE_DIM_TEXTURE1D; d.width = 21; d.height = 1; d.depth_or_array_size = 4; d.mip_levels = 2; break;
    case K_CUBE_ARRAY: d.dimension = GLBRIDGE_DIM_TEXTURECUBE; d.width = 8; d.height = 8; d.depth_or_array_size = 2; d.mip_levels = 2;
        d.misc_flags = 0x4; /* TEXTURECUBE */ break;
    }
    return d;
}

static const unsigned targets[K_COUNT] = { GL_TEXTURE_2D, GL_TEXTURE_CUBE_MAP, GL_TEXTURE_2D_ARRAY, GL_TEXTURE_3D,
                                           GL_TEXTURE_1D, GL_TEXTURE_1D_ARRAY, GL_TEXTURE_CUBE_MAP_ARRAY };

static unsigned char pat(int kind, unsigned level, unsigned face, size_t i)
{
    return (unsigned char)(i * 13u + level * 71u + face * 29u + (unsigned)kind * 5u + 1u + (i >> 9));
}

/* level_bytes: the RGBA8 bytes of one GL call of level lv (a face for a cube). */
static size_t level_bytes(int kind, unsigned lv, unsigned *w, unsigned *h, unsigned *d)
{
    glbridge_desc ds = desc_of(kind);
    *w = ds.width >> lv ? ds.width >> lv : 1;
    *h = kind == K_1D_ARRAY ? ds.depth_or_array_size : ds.height >> lv ? ds.height >> lv : 1;
    *d = kind == K_ARRAY ? ds.depth_or_array_size : kind == K_3D ? (ds.depth_or_array_size >> lv ? ds.depth_or_array_size >> lv : 1)
       : kind == K_CUBE_ARRAY ? 6 * ds.depth_or_array_size : 1;
    return (size_t)*w * *h * *d * 4;
}

/* upload_pattern / check_pattern: every texel of every level and face of tex. */
static void upload_pattern(int kind, unsigned tex)
{
    glbridge_desc ds = desc_of(kind);
    unsigned lv, f, w, h, d, faces = kind == K_CUBE ? 6 : 1;
    size_t i, n;
    unsigned char *buf;
    t_glBindTexture(targets[kind], tex);
    t_glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
    for (lv = 0; lv < ds.mip_levels; lv++)
        for (f = 0; f < faces; f++) {
            n = level_bytes(kind, lv, &w, &h, &d);
            buf = malloc(n);
            CHECK(buf != NULL);
            for (i = 0; i < n; i++)
                buf[i] = pat(kind, lv, f, i);
            if (kind == K_1D)
                t_glTexSubImage1D(GL_TEXTURE_1D, (int)lv, 0, (int)w, GL_RGBA, GL_UNSIGNED_BYTE, buf);
            else if (kind == K_2D || kind == K_CUBE || kind == K_1D_ARRAY)
                t_glTexSubImage2D(kind == K_CUBE ? GL_TEXTURE_CUBE_MAP_POSITIVE_X + f : targets[kind], (int)lv, 0, 0,
                                  (int)w, (int)h, GL_RGBA, GL_UNSIGNED_BYTE, buf);
            else
                t_glTexSubImage3D(targets[kind], (int)lv, 0, 0, 0, (int)w, (int)h, (int)d, GL_RGBA, GL_UNSIGNED_BYTE, buf);
            free(buf);
        }
    t_glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
    t_glBindTexture(targets[kind], 0);
    CHECK_EQ(t_glGetError(), 0);
    t_glFinish();
}

static void check_pattern(int kind, unsigned tex)
{
    glbridge_desc ds = desc_of(kind);
    unsigned lv, f, w, h, d, faces = kind == K_CUBE ? 6 : 1;
    size_t i, n;
    unsigned char *buf;
    t_glBindTexture(targets[kind], tex);
    t_glPixelStorei(GL_PACK_ALIGNMENT, 1);
    for (lv = 0; lv < ds.mip_levels; lv++)
        for (f = 0; f < faces; f++) {
            n = level_bytes(kind, lv, &w, &h, &d);
            buf = malloc(n);
            CHECK(buf != NULL);
            memset(buf, 0xEE, n);
            t_glGetTexImage(kind == K_CUBE ? GL_TEXTURE_CUBE_MAP_POSITIVE_X + f : targets[kind], (int)lv, GL_RGBA,
                            GL_UNSIGNED_BYTE, buf);
            CHECK_EQ(t_glGetError(), 0);
            for (i = 0; i < n; i++)
                if (buf[i] != pat(kind, lv, f, i))
                    FAIL("kind %d level %u face %u byte %zu: 0x%02x, want 0x%02x", kind, lv, f, i, buf[i], pat(kind, lv, f, i));
            free(buf);
        }
    t_glPixelStorei(GL_PACK_ALIGNMENT, 4);
    t_glBindTexture(targets[kind], 0);
}

/* ---- children ---- */

static int child_tex(const char *name, int kind)
{
    struct egl e;
    glbridge_gl gl;
    glbridge_client *c = connect_broker();
    glbridge_record rec;
    glbridge_fds fds;
    glbridge_gl_texture tex;
    CHECK_ST(c, glbridge_open_name(c, name, GLBRIDGE_ACCESS_READ, &rec, &fds), GLBRIDGE_OK);
    egl_open(&e);
    CHECK_GL(&gl, glbridge_gl_init(&gl, gpa, NULL), GLBRIDGE_OK);
    CHECK(gl.memory_object_fd);
    CHECK_GL(&gl, glbridge_gl_import_texture(&gl, &rec, fds.memory, &tex), GLBRIDGE_OK);
    CHECK(fcntl(fds.memory, F_GETFD) >= 0); /* the caller's fd stays */
    check_pattern(kind, tex.name);
    glbridge_gl_texture_close(&gl, &tex);
    egl_close(&e);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    glbridge_client_close(c);
    return 0;
}

/* child_sem opens the 2D texture shared under name with its semaphore,
 * waits on the GPU for what the parent signalled (timeline value 1, or
 * the binary signal) and checks every texel. */
static int child_sem(const char *name, int timeline)
{
    struct egl e;
    glbridge_gl gl;
    glbridge_client *c = connect_broker();
    glbridge_record rec;
    glbridge_fds fds;
    glbridge_gl_texture tex;
    glbridge_gl_semaphore sem;
    CHECK_ST(c, glbridge_open_name(c, name, GLBRIDGE_ACCESS_READ, &rec, &fds), GLBRIDGE_OK);
    CHECK_EQ(rec.sync_count, 1);
    CHECK_EQ(rec.sync_kinds[0], timeline ? GLBRIDGE_SYNC_TIMELINE : GLBRIDGE_SYNC_BINARY);
    egl_open(&e);
    CHECK_GL(&gl, glbridge_gl_init(&gl, gpa, NULL), GLBRIDGE_OK);
    CHECK(gl.semaphore_fd);
    CHECK_GL(&gl, glbridge_gl_import_texture(&gl, &rec, fds.memory, &tex), GLBRIDGE_OK);
    CHECK_GL(&gl, glbridge_gl_import_semaphore(&gl, fds.sync[0], timeline, &sem), GLBRIDGE_OK);
    CHECK_GL(&gl, glbridge_gl_wait_semaphore(&gl, &sem, 1, 0, NULL, 1, &tex.name, NULL), GLBRIDGE_OK);
    check_pattern(K_2D, tex.name);
    t_glFinish();
    glbridge_gl_semaphore_close(&gl, &sem);
    glbridge_gl_texture_close(&gl, &tex);
    egl_close(&e);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    glbridge_client_close(c);
    return 0;
}

/* The 2D host texture's level 0 gets a rectangle drawn over it. */
#define RX 5
#define RY 3
#define RW 10
#define RH 7
static unsigned char rect_val(unsigned x, unsigned y, unsigned ch) { return (unsigned char)(x * 3u + y * 5u + ch + 0x40u); }
static unsigned char host_pat(int kind, size_t i) { return (unsigned char)(i * 7u + 3u + (i >> 8) + (unsigned)kind); }

static unsigned char host_expect(int kind, const glbridge_record *rec, size_t i)
{
    if (kind == K_2D && i < rec->levels[0].subresource_size) {
        unsigned y = (unsigned)(i / rec->levels[0].row_pitch), x = (unsigned)(i % rec->levels[0].row_pitch) / 4u;
        if (x >= RX && x < RX + RW && y >= RY && y < RY + RH)
            return rect_val(x, y, (unsigned)(i % 4));
    }
    return host_pat(kind, i);
}

static int child_host(const char *name, int kind)
{
    glbridge_client *c = connect_broker();
    glbridge_record rec;
    glbridge_fds fds;
    unsigned char *p;
    size_t i;
    CHECK_ST(c, glbridge_open_name(c, name, GLBRIDGE_ACCESS_READ, &rec, &fds), GLBRIDGE_OK);
    CHECK(rec.alloc.flags & GLBRIDGE_ALLOC_HOST_MEMORY);
    p = mmap(NULL, rec.alloc.size, PROT_READ, MAP_SHARED, fds.memory, 0);
    CHECK(p != MAP_FAILED);
    for (i = 0; i < rec.alloc.size; i++)
        if (p[i] != host_expect(kind, &rec, i))
            FAIL("host kind %d byte %zu: 0x%02x, want 0x%02x", kind, i, p[i], host_expect(kind, &rec, i));
    munmap(p, rec.alloc.size);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    glbridge_client_close(c);
    return 0;
}

/* ---- tests ---- */

static void test_device(glbridge_gl *gl, glbridge_client *c)
{
    uint8_t drv[16], dev[16];
    int kind;
    CHECK(gl->device_uuids);
    CHECK_GL(gl, glbridge_gl_device_uuids(gl, drv, dev), GLBRIDGE_OK);
    for (kind = 0; kind < K_COUNT; kind++) {
        glbridge_allocate_params p;
        glbridge_record rec;
        glbridge_fds fds;
        glbridge_gl_texture tex;
        uint32_t nt;
        char name[64];
        memset(&p, 0, sizeof p);
        p.desc = desc_of(kind);
        memcpy(p.driver_uuid, drv, 16);
        memcpy(p.device_uuid, dev, 16);
        CHECK_ST(c, glbridge_allocate(c, &p, &rec, &fds), GLBRIDGE_OK);
        CHECK_EQ(rec.gl.target, targets[kind]);
        CHECK_GL(gl, glbridge_gl_import_texture(gl, &rec, fds.memory, &tex), GLBRIDGE_OK);
        CHECK(tex.name != 0 && tex.memory != 0);
        CHECK_EQ(tex.target, targets[kind]);
        upload_pattern(kind, tex.name);
        check_pattern(kind, tex.name); /* this process's view first */
        snprintf(name, sizeof name, "gl-device-%d", kind);
        CHECK_ST(c, glbridge_share(c, rec.kmt, GLBRIDGE_ACCESS_READ | GLBRIDGE_ACCESS_WRITE, name, &nt, NULL), GLBRIDGE_OK);
        run_child("child-tex", name, kind);
        printf("ok device import kind %d (target 0x%04x, %ux%ux%u, %u levels): texels checked in another process\n",
               kind, rec.gl.target, rec.gl.width, rec.gl.height, rec.gl.depth, rec.gl.levels);
        /* the fd may be imported again (it was dup'ed) */
        {
            glbridge_gl_texture again;
            CHECK_GL(gl, glbridge_gl_import_texture(gl, &rec, fds.memory, &again), GLBRIDGE_OK);
            check_pattern(kind, again.name);
            glbridge_gl_texture_close(gl, &again);
        }
        glbridge_gl_texture_close(gl, &tex);
        CHECK(tex.name == 0 && tex.memory == 0);
        CHECK_ST(c, glbridge_close(c, nt), GLBRIDGE_OK);
        CHECK_ST(c, glbridge_close(c, rec.kmt), GLBRIDGE_OK);
        glbridge_fds_close(&fds);
        glbridge_record_free(&rec);
    }

    /* multisampled textures, plain and arrays: imported as the multisample
     * targets (their samples cannot be read back to memory, so the import
     * and the storage GL made are what is checked) */
    {
        static const struct { uint32_t layers; unsigned target; } ms[] = { { 1, 0x9100 }, { 2, 0x9102 } };
        unsigned i;
        for (i = 0; i < sizeof ms / sizeof ms[0]; i++) {
            glbridge_allocate_params p;
            glbridge_record rec;
            glbridge_fds fds;
            glbridge_gl_texture tex;
            glbridge_status st;
            memset(&p, 0, sizeof p);
            p.desc.dimension = GLBRIDGE_DIM_TEXTURE2D;
            p.desc.width = 32;
            p.desc.height = 16;
            p.desc.depth_or_array_size = ms[i].layers;
            p.desc.mip_levels = 1;
            p.desc.sample_count = 4;
            p.desc.format = 28;
            p.desc.bind_flags = 0x20 | 0x8; /* RENDER_TARGET | SHADER_RESOURCE */
            memcpy(p.driver_uuid, drv, 16);
            memcpy(p.device_uuid, dev, 16);
            st = glbridge_allocate(c, &p, &rec, &fds);
            if (st == GLBRIDGE_E_UNSUPPORTED_FORMAT) {
                printf("skip multisample import (%u layers): the device cannot export 4-sample RGBA8 images\n", ms[i].layers);
                continue;
            }
            CHECK_ST(c, st, GLBRIDGE_OK);
            CHECK_EQ(rec.gl.target, ms[i].target);
            CHECK_EQ(rec.gl.samples, 4);
            CHECK_GL(gl, glbridge_gl_import_texture(gl, &rec, fds.memory, &tex), GLBRIDGE_OK);
            CHECK_EQ(tex.target, ms[i].target);
            CHECK_EQ(t_glGetError(), 0);
            printf("ok device import multisample (target 0x%04x, 32x16, %u layer(s), 4 samples)\n", tex.target, ms[i].layers);
            glbridge_gl_texture_close(gl, &tex);
            CHECK_ST(c, glbridge_close(c, rec.kmt), GLBRIDGE_OK);
            glbridge_fds_close(&fds);
            glbridge_record_free(&rec);
        }
    }

    /* a buffer: target 0 refused as a texture, imported as a buffer */
    {
        glbridge_allocate_params p;
        glbridge_record rec;
        glbridge_fds fds;
        glbridge_gl_texture tex;
        glbridge_gl_buffer buf;
        unsigned char in[1000], out[1000];
        size_t i;
        memset(&p, 0, sizeof p);
        p.desc.dimension = GLBRIDGE_DIM_BUFFER;
        p.desc.width = 1000;
        p.desc.height = 1;
        p.desc.depth_or_array_size = 1;
        p.desc.mip_levels = 1;
        p.desc.sample_count = 1;
        p.desc.bind_flags = 0x8;
        memcpy(p.driver_uuid, drv, 16);
        memcpy(p.device_uuid, dev, 16);
        CHECK_ST(c, glbridge_allocate(c, &p, &rec, &fds), GLBRIDGE_OK);
        CHECK_EQ(rec.gl.target, 0);
        CHECK_GL(gl, glbridge_gl_import_texture(gl, &rec, fds.memory, &tex), GLBRIDGE_E_UNSUPPORTED_FORMAT);
        CHECK(strstr(glbridge_gl_last_error(gl), "glbridge_gl_import_buffer") != NULL);
        CHECK_GL(gl, glbridge_gl_import_buffer(gl, &rec, fds.memory, &buf), GLBRIDGE_OK);
        CHECK_EQ(buf.size, 1000);
        for (i = 0; i < sizeof in; i++)
            in[i] = (unsigned char)(i * 11 + 1);
        t_glBindBuffer(GL_COPY_WRITE_BUFFER, buf.name);
        t_glBufferSubData(GL_COPY_WRITE_BUFFER, 0, sizeof in, in);
        memset(out, 0, sizeof out);
        t_glGetBufferSubData(GL_COPY_WRITE_BUFFER, 0, sizeof out, out);
        t_glBindBuffer(GL_COPY_WRITE_BUFFER, 0);
        CHECK_EQ(t_glGetError(), 0);
        CHECK(memcmp(in, out, sizeof in) == 0);
        glbridge_gl_buffer_close(gl, &buf);
        /* device memory has no level layouts: no copy path */
        {
            glbridge_gl_texture none = { 1, 0x0DE1, 0 };
            CHECK_GL(gl, glbridge_gl_copy_fill(gl, &rec, fds.memory, &none), GLBRIDGE_E_UNSUPPORTED_FORMAT);
        }
        printf("ok device buffer: target 0 refused as a texture, imported as a buffer of %u bytes (memory %llu)\n",
               p.desc.width, (unsigned long long)rec.alloc.size);
        CHECK_ST(c, glbridge_close(c, rec.kmt), GLBRIDGE_OK);
        glbridge_fds_close(&fds);
        glbridge_record_free(&rec);
    }
}

static void test_bad_fds(glbridge_gl *gl, glbridge_client *c)
{
    uint8_t drv[16], dev[16];
    glbridge_allocate_params p;
    glbridge_record rec;
    glbridge_fds fds;
    glbridge_gl_texture tex;
    int pfd[2];
    CHECK_GL(gl, glbridge_gl_device_uuids(gl, drv, dev), GLBRIDGE_OK);
    memset(&p, 0, sizeof p);
    p.desc = desc_of(K_2D);
    memcpy(p.driver_uuid, drv, 16);
    memcpy(p.device_uuid, dev, 16);
    CHECK_ST(c, glbridge_allocate(c, &p, &rec, &fds), GLBRIDGE_OK);
    CHECK(pipe2(pfd, O_CLOEXEC) == 0);
    CHECK_GL(gl, glbridge_gl_import_texture(gl, &rec, pfd[0], &tex), GLBRIDGE_E_ARGUMENT);
    CHECK(strstr(glbridge_gl_last_error(gl), "pipe") != NULL);
    CHECK_GL(gl, glbridge_gl_import_texture(gl, &rec, -1, &tex), GLBRIDGE_E_ARGUMENT);
    CHECK(tex.name == 0 && tex.memory == 0);
    close(pfd[0]);
    close(pfd[1]);
    CHECK_ST(c, glbridge_close(c, rec.kmt), GLBRIDGE_OK);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    printf("ok import refuses a pipe and fd -1 before GL sees them\n");
}

static void test_host(glbridge_gl *gl, glbridge_client *c)
{
    int kinds[] = { K_2D, K_CUBE, K_ARRAY, K_3D, 100 /* BC1 array */ };
    size_t k;
    for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        int kind = kinds[k];
        glbridge_allocate_params p;
        glbridge_record rec;
        glbridge_fds fds;
        glbridge_gl_texture tex, dummy;
        unsigned char *m;
        size_t i;
        uint32_t nt;
        char name[64];
        memset(&p, 0, sizeof p);
        p.flags = GLBRIDGE_ALLOCATE_HOST_MEMORY;
        if (kind == 100) {
            p.desc = desc_of(K_ARRAY); /* the protocol's worked example: 2 layers of 20x12 BC1, 3 levels */
            p.desc.depth_or_array_size = 2;
            p.desc.mip_levels = 3;
            p.desc.format = 71;
        } else {
            p.desc = desc_of(kind);
        }
        CHECK_ST(c, glbridge_allocate(c, &p, &rec, &fds), GLBRIDGE_OK);
        CHECK(rec.alloc.flags & GLBRIDGE_ALLOC_HOST_MEMORY);
        CHECK_EQ(rec.gl.level_count, p.desc.mip_levels);
        if (kind == K_2D)
            CHECK_EQ(rec.alloc.size, 11468); /* the worked example */
        if (kind == 100)
            CHECK_EQ(rec.alloc.size, 368);
        CHECK_GL(gl, glbridge_gl_import_texture(gl, &rec, fds.memory, &dummy), GLBRIDGE_E_ARGUMENT);
        m = mmap(NULL, rec.alloc.size, PROT_READ | PROT_WRITE, MAP_SHARED, fds.memory, 0);
        CHECK(m != MAP_FAILED);
        for (i = 0; i < rec.alloc.size; i++)
            m[i] = host_pat(kind, i);
        CHECK_GL(gl, glbridge_gl_copy_texture_create(gl, &rec, &tex), GLBRIDGE_OK);
        CHECK(tex.name != 0 && tex.memory == 0);
        CHECK_GL(gl, glbridge_gl_copy_fill(gl, &rec, fds.memory, &tex), GLBRIDGE_OK);
        if (kind == K_2D) { /* draw over level 0 */
            unsigned char rect[RW * RH * 4];
            unsigned x, y, ch;
            for (y = 0; y < RH; y++)
                for (x = 0; x < RW; x++)
                    for (ch = 0; ch < 4; ch++)
                        rect[(y * RW + x) * 4 + ch] = rect_val(RX + x, RY + y, ch);
            t_glBindTexture(GL_TEXTURE_2D, tex.name);
            t_glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
            t_glTexSubImage2D(GL_TEXTURE_2D, 0, RX, RY, RW, RH, GL_RGBA, GL_UNSIGNED_BYTE, rect);
            t_glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
            t_glBindTexture(GL_TEXTURE_2D, 0);
            CHECK_EQ(t_glGetError(), 0);
        }
        memset(m, 0, rec.alloc.size); /* only write-back can bring the bytes back */
        CHECK_GL(gl, glbridge_gl_copy_write_back(gl, &rec, fds.memory, &tex), GLBRIDGE_OK);
        munmap(m, rec.alloc.size);
        snprintf(name, sizeof name, "gl-host-%d", kind);
        CHECK_ST(c, glbridge_share(c, rec.kmt, GLBRIDGE_ACCESS_READ, name, &nt, NULL), GLBRIDGE_OK);
        run_child("child-host", name, kind);
        printf("ok host memory kind %d (target 0x%04x, format 0x%04x, %llu bytes): fill, draw, write back, every byte checked in another process\n",
               kind, rec.gl.target, rec.gl.internal_format, (unsigned long long)rec.alloc.size);
        /* wrong texture for the record */
        dummy = tex;
        dummy.target = 0x0DE0;
        CHECK_GL(gl, glbridge_gl_copy_fill(gl, &rec, fds.memory, &dummy), GLBRIDGE_E_ARGUMENT);
        glbridge_gl_texture_close(gl, &tex);
        CHECK_ST(c, glbridge_close(c, nt), GLBRIDGE_OK);
        CHECK_ST(c, glbridge_close(c, rec.kmt), GLBRIDGE_OK);
        glbridge_fds_close(&fds);
        glbridge_record_free(&rec);
    }
}

/* test_semaphores_shared: where GL has GL_EXT_semaphore_fd, the broker
 * allocates a 2D texture with a timeline semaphore (GL_NV_timeline_semaphore)
 * or a binary one; this process imports both, uploads the pattern and
 * signals; a child process imports them, waits on the GPU and checks every
 * texel. */
static void test_semaphores_shared(glbridge_gl *gl, glbridge_client *c)
{
    uint8_t drv[16], dev[16];
    int timeline;
    for (timeline = 0; timeline <= 1; timeline++) {
        glbridge_allocate_params p;
        glbridge_record rec;
        glbridge_fds fds;
        glbridge_gl_texture tex;
        glbridge_gl_semaphore sem;
        uint32_t nt;
        char name[64], arg[16];
        pid_t pid;
        int st;
        if (timeline && !gl->timeline_semaphore) {
            printf("skip timeline semaphore: no GL_NV_timeline_semaphore\n");
            continue;
        }
        CHECK_GL(gl, glbridge_gl_device_uuids(gl, drv, dev), GLBRIDGE_OK);
        memset(&p, 0, sizeof p);
        p.desc = desc_of(K_2D);
        p.sync_kind = timeline ? GLBRIDGE_SYNC_TIMELINE : GLBRIDGE_SYNC_BINARY;
        p.sync_count = 1;
        memcpy(p.driver_uuid, drv, 16);
        memcpy(p.device_uuid, dev, 16);
        CHECK_ST(c, glbridge_allocate(c, &p, &rec, &fds), GLBRIDGE_OK);
        CHECK_EQ(rec.sync_count, 1);
        CHECK_GL(gl, glbridge_gl_import_texture(gl, &rec, fds.memory, &tex), GLBRIDGE_OK);
        CHECK_GL(gl, glbridge_gl_import_semaphore(gl, fds.sync[0], timeline, &sem), GLBRIDGE_OK);
        CHECK_EQ(sem.timeline, timeline);
        upload_pattern(K_2D, tex.name);
        snprintf(name, sizeof name, "gl-sem-%d", timeline);
        CHECK_ST(c, glbridge_share(c, rec.kmt, GLBRIDGE_ACCESS_READ, name, &nt, NULL), GLBRIDGE_OK);
        /* The child waits before this process signals: its read must be
         * ordered by the semaphore alone. */
        snprintf(arg, sizeof arg, "%d", timeline);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            execl(self_exe, self_exe, "child-sem", sock, name, arg, (char *)NULL);
            _exit(127);
        }
        CHECK_GL(gl, glbridge_gl_signal_semaphore(gl, &sem, 1, 0, NULL, 1, &tex.name, NULL), GLBRIDGE_OK);
        CHECK(waitpid(pid, &st, 0) == pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            FAIL("child-sem %s failed (status 0x%x)", name, st);
        printf("ok %s semaphore from ALLOCATE: imported in two processes, signalled after the upload, waited on, every texel checked\n",
               timeline ? "timeline" : "binary");
        t_glFinish();
        glbridge_gl_semaphore_close(gl, &sem);
        glbridge_gl_texture_close(gl, &tex);
        CHECK_ST(c, glbridge_close(c, nt), GLBRIDGE_OK);
        CHECK_ST(c, glbridge_close(c, rec.kmt), GLBRIDGE_OK);
        glbridge_fds_close(&fds);
        glbridge_record_free(&rec);
    }
}

static void test_semaphores(glbridge_gl *gl)
{
    glbridge_gl_semaphore sem, fake = { 1, 0 };
    int fd = memfd_create("not-a-semaphore", MFD_CLOEXEC), before;
    unsigned tex = 1;
    CHECK(fd >= 0);
    before = count_fds();
    if (gl->semaphore_fd) {
        /* test_semaphores_shared exercises them. */
        close(fd);
        return;
    }
    CHECK_GL(gl, glbridge_gl_import_semaphore(gl, fd, 0, &sem), GLBRIDGE_E_GL_UNSUPPORTED);
    CHECK(strstr(glbridge_gl_last_error(gl), "GL_EXT_semaphore_fd") != NULL);
    CHECK(sem.name == 0);
    CHECK_GL(gl, glbridge_gl_import_semaphore(gl, fd, 1, &sem), GLBRIDGE_E_GL_UNSUPPORTED);
    CHECK_GL(gl, glbridge_gl_wait_semaphore(gl, &fake, 1, 0, NULL, 1, &tex, NULL), GLBRIDGE_E_GL_UNSUPPORTED);
    CHECK_GL(gl, glbridge_gl_signal_semaphore(gl, &fake, 1, 0, NULL, 1, &tex, NULL), GLBRIDGE_E_GL_UNSUPPORTED);
    CHECK_EQ(count_fds(), before);
    CHECK(fcntl(fd, F_GETFD) >= 0);
    close(fd);
    printf("ok semaphores: GLBRIDGE_E_GL_UNSUPPORTED without GL_EXT_semaphore_fd (%s)\n", glbridge_strerror(GLBRIDGE_E_GL_UNSUPPORTED));
}

int main(int argc, char **argv)
{
    struct egl e;
    glbridge_gl gl;
    glbridge_client *c;
    int fds_before;
    ssize_t n;

    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGPIPE, SIG_IGN);
    if (argc == 5 && !strcmp(argv[1], "child-sem")) {
        snprintf(sock, sizeof sock, "%s", argv[2]);
        return child_sem(argv[3], atoi(argv[4]));
    }
    if (argc == 5 && (!strcmp(argv[1], "child-tex") || !strcmp(argv[1], "child-host"))) {
        snprintf(sock, sizeof sock, "%s", argv[2]);
        return !strcmp(argv[1], "child-tex") ? child_tex(argv[3], atoi(argv[4])) : child_host(argv[3], atoi(argv[4]));
    }
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH/TO/glshare\n", argv[0]);
        return 2;
    }
    glshare = argv[1];
    n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    CHECK(n > 0);
    self_exe[n] = '\0';
    CHECK(mkdtemp(tmpdir) != NULL);
    broker_start();

    egl_open(&e);
    CHECK_GL(&gl, glbridge_gl_init(&gl, NULL, NULL), GLBRIDGE_E_ARGUMENT);
    CHECK_GL(&gl, glbridge_gl_init(&gl, gpa, NULL), GLBRIDGE_OK);
    printf("GL %d.%d (%s): memory_object_fd %d, semaphore_fd %d, timeline_semaphore %d, device_uuids %d\n",
           gl.major, gl.minor, t_glGetString(0x1F01), gl.memory_object_fd, gl.semaphore_fd, gl.timeline_semaphore, gl.device_uuids);
    CHECK(gl.major >= 3);
    c = connect_broker();
    fds_before = count_fds();
    test_semaphores(&gl);
    if (gl.memory_object_fd) {
        test_device(&gl, c);
        test_bad_fds(&gl, c);
        if (gl.semaphore_fd)
            test_semaphores_shared(&gl, c);
    } else {
        printf("skip device import: no GL_EXT_memory_object_fd\n");
    }
    test_host(&gl, c);
    CHECK_EQ(count_fds(), fds_before); /* no fd leaked by the helpers (dups closed, GL's released) */
    printf("ok no fds leaked\n");
    glbridge_client_close(c);
    egl_close(&e);

    kill(broker_pid, SIGTERM);
    waitpid(broker_pid, NULL, 0);
    {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("PASS libglbridge GL helpers\n");
    return 0;
}
