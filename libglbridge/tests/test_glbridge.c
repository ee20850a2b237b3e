/*
 * Tests of libglbridge against real brokers (glshare serve), across real
 * processes. Usage: test_glbridge PATH/TO/glshare
 *
 * No test depends on a tight wall-clock bound: waits are long and only
 * bounded generously.
 */
#define _GNU_SOURCE
#include "glbridge.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *glshare;
static char tmpdir[] = "/tmp/libglbridge-test-XXXXXX";

#include "check.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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
    return n - 1; /* the DIR's own fd */
}

static void fd_valid_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    CHECK(fd >= 0);
    CHECK(fl >= 0);
    CHECK(fl & FD_CLOEXEC);
}

/* ---- brokers ---- */

struct broker {
    pid_t pid;
    char sock[256];
};

static void broker_start(struct broker *b, const char *tag, const char *extra1, const char *extra2)
{
    char log[300];
    int i;
    snprintf(b->sock, sizeof b->sock, "%s/%s.sock", tmpdir, tag);
    snprintf(log, sizeof log, "%s/%s.log", tmpdir, tag);
    b->pid = fork();
    CHECK(b->pid >= 0);
    if (b->pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (extra1)
            execl(glshare, "glshare", "serve", "--socket", b->sock, extra1, extra2, (char *)NULL);
        else
            execl(glshare, "glshare", "serve", "--socket", b->sock, (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 1200; i++) { /* up to two minutes */
        glbridge_client *c;
        int st;
        if (glbridge_connect(b->sock, &c) == GLBRIDGE_OK) {
            glbridge_client_close(c);
            return;
        }
        if (waitpid(b->pid, &st, WNOHANG) == b->pid)
            FAIL("broker %s exited (see %s)", tag, log);
        usleep(100000);
    }
    FAIL("broker %s does not answer on %s", tag, b->sock);
}

static void broker_kill(struct broker *b, int sig)
{
    int st;
    if (b->pid <= 0)
        return;
    kill(b->pid, sig);
    waitpid(b->pid, &st, 0);
    b->pid = 0;
}

static glbridge_client *connect_to(const struct broker *b)
{
    glbridge_client *c = NULL;
    CHECK_ST(NULL, glbridge_connect(b->sock, &c), GLBRIDGE_OK);
    CHECK(c != NULL);
    return c;
}

static void wait_child(pid_t pid, const char *what)
{
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        FAIL("child %s failed (status 0x%x)", what, st);
}

/* ---- records of the worked examples of docs/protocol.md ---- */

static glbridge_desc desc_tex2d(uint32_t w, uint32_t h, uint32_t layers, uint32_t levels, uint32_t fmt)
{
    glbridge_desc d;
    memset(&d, 0, sizeof d);
    d.dimension = GLBRIDGE_DIM_TEXTURE2D;
    d.width = w;
    d.height = h;
    d.depth_or_array_size = layers;
    d.mip_levels = levels;
    d.sample_count = 1;
    d.format = fmt;
    d.bind_flags = 0x8; /* SHADER_RESOURCE */
    return d;
}

static void check_level(const glbridge_level_layout *l, uint64_t off, uint64_t sub, uint32_t w,
                        uint32_t h, uint32_t pitch, uint32_t rows)
{
    CHECK_EQ(l->offset, off);
    CHECK_EQ(l->subresource_size, sub);
    CHECK_EQ(l->width, w);
    CHECK_EQ(l->height, h);
    CHECK_EQ(l->depth, 1);
    CHECK_EQ(l->row_pitch, pitch);
    CHECK_EQ(l->rows, rows);
}

/* Example 1: texture2d 67x33 R8G8B8A8_UNORM, 1 layer, 3 levels. */
static void check_example_rgba(const glbridge_record *r)
{
    static const uint8_t zero[4] = {0, 0, 0, 0};
    CHECK_EQ(r->alloc.flags, GLBRIDGE_ALLOC_HOST_MEMORY);
    CHECK_EQ(r->alloc.size, 11468);
    CHECK_EQ(r->alloc.offset, 0);
    CHECK_EQ(r->alloc.vk_format, 0);
    CHECK_EQ(r->alloc.desc.width, 67);
    CHECK_EQ(r->alloc.desc.format, 28);
    CHECK(r->flags & GLBRIDGE_RECORD_SERVICE_ALLOCATED);
    CHECK_EQ(r->gl.target, 0x0DE1);
    CHECK_EQ(r->gl.internal_format, 0x8058);
    CHECK_EQ(r->gl.format, 0x1908);
    CHECK_EQ(r->gl.type, 0x1401);
    CHECK(memcmp(r->gl.swizzle, zero, 4) == 0);
    CHECK_EQ(r->gl.width, 67);
    CHECK_EQ(r->gl.height, 33);
    CHECK_EQ(r->gl.depth, 1);
    CHECK_EQ(r->gl.levels, 3);
    CHECK_EQ(r->gl.samples, 1);
    CHECK_EQ(r->gl.level_count, 3);
    check_level(&r->levels[0], 0, 8844, 67, 33, 268, 33);
    check_level(&r->levels[1], 8844, 2112, 33, 16, 132, 16);
    check_level(&r->levels[2], 10956, 512, 16, 8, 64, 8);
    CHECK_EQ(r->levels[3].offset, 0);
    CHECK_EQ(r->sync_count, 0);
}

/* Example 2: texture2d array of 2 layers of 20x12 BC1_UNORM, 3 levels. */
static void check_example_bc1(const glbridge_record *r)
{
    CHECK_EQ(r->alloc.flags, GLBRIDGE_ALLOC_HOST_MEMORY);
    CHECK_EQ(r->alloc.size, 368);
    CHECK_EQ(r->gl.target, 0x8C1A);
    CHECK_EQ(r->gl.internal_format, 0x83F1);
    CHECK_EQ(r->gl.format, 0);
    CHECK_EQ(r->gl.type, 0);
    CHECK_EQ(r->gl.width, 20);
    CHECK_EQ(r->gl.height, 12);
    CHECK_EQ(r->gl.depth, 2);
    CHECK_EQ(r->gl.levels, 3);
    CHECK_EQ(r->gl.level_count, 3);
    check_level(&r->levels[0], 0, 120, 20, 12, 40, 3);
    check_level(&r->levels[1], 240, 48, 10, 6, 24, 2);
    check_level(&r->levels[2], 336, 16, 5, 3, 16, 1);
}

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7u + 3u + (i >> 8)); }

static void check_bytes(int fd, size_t size)
{
    struct stat sb;
    unsigned char *m;
    size_t i;
    CHECK(fstat(fd, &sb) == 0);
    CHECK_EQ(sb.st_size, size);
    m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED);
    for (i = 0; i < size; i++)
        if (m[i] != pattern(i))
            FAIL("byte %lu is %u, want %u", (unsigned long)i, m[i], pattern(i));
    munmap(m, size);
}

static glbridge_status alloc_host(glbridge_client *c, glbridge_desc d, const void *data,
                                  uint32_t dlen, glbridge_record *rec, glbridge_fds *fds)
{
    glbridge_allocate_params p;
    memset(&p, 0, sizeof p);
    p.flags = GLBRIDGE_ALLOCATE_HOST_MEMORY;
    p.desc = d;
    p.data = data;
    p.data_len = dlen;
    return glbridge_allocate(c, &p, rec, fds);
}

/* ---- tests ---- */

static void set_env(const char *k, const char *v)
{
    if (v)
        setenv(k, v, 1);
    else
        unsetenv(k);
}

static void test_default_path(void)
{
    char *sx = getenv("XDG_RUNTIME_DIR"), *st = getenv("TMPDIR");
    char oldx[4096] = "", oldt[4096] = "", buf[512], want[512];
    int hx = sx != NULL, ht = st != NULL;
    if (sx)
        snprintf(oldx, sizeof oldx, "%s", sx);
    if (st)
        snprintf(oldt, sizeof oldt, "%s", st);

    set_env("XDG_RUNTIME_DIR", "/run/user/77/");
    CHECK_ST(NULL, glbridge_default_socket_path(buf, sizeof buf), GLBRIDGE_OK);
    CHECK(strcmp(buf, "/run/user/77/glbridge/broker.sock") == 0);
    set_env("XDG_RUNTIME_DIR", "//run//./user/x/../77");
    CHECK_ST(NULL, glbridge_default_socket_path(buf, sizeof buf), GLBRIDGE_OK);
    CHECK(strcmp(buf, "/run/user/77/glbridge/broker.sock") == 0);
    set_env("XDG_RUNTIME_DIR", "");
    set_env("TMPDIR", "/var/tmp//");
    CHECK_ST(NULL, glbridge_default_socket_path(buf, sizeof buf), GLBRIDGE_OK);
    snprintf(want, sizeof want, "/var/tmp/glbridge-%lu/broker.sock", (unsigned long)getuid());
    CHECK(strcmp(buf, want) == 0);
    set_env("XDG_RUNTIME_DIR", NULL);
    set_env("TMPDIR", NULL);
    CHECK_ST(NULL, glbridge_default_socket_path(buf, sizeof buf), GLBRIDGE_OK);
    snprintf(want, sizeof want, "/tmp/glbridge-%lu/broker.sock", (unsigned long)getuid());
    CHECK(strcmp(buf, want) == 0);
    CHECK_ST(NULL, glbridge_default_socket_path(buf, 10), GLBRIDGE_E_ARGUMENT);

    set_env("XDG_RUNTIME_DIR", hx ? oldx : NULL);
    set_env("TMPDIR", ht ? oldt : NULL);
    printf("ok   default socket path\n");
}

static void test_strerror(void)
{
    int i;
    for (i = -9; i <= 22; i++) {
        const char *s = glbridge_strerror((glbridge_status)i);
        CHECK(s && strcmp(s, "unknown glbridge status") != 0);
    }
    CHECK(strcmp(glbridge_strerror((glbridge_status)99), "unknown glbridge status") == 0);
    printf("ok   strerror\n");
}

static void test_fd_cycle(const struct broker *b)
{
    glbridge_client *c = NULL;
    glbridge_record rec;
    glbridge_fds fds, fds2;
    int before = count_fds(), after;
    char path[300];

    c = connect_to(b);
    CHECK_ST(c, alloc_host(c, desc_tex2d(16, 16, 1, 1, 28), "x", 1, &rec, &fds), GLBRIDGE_OK);
    fd_valid_cloexec(fds.memory);
    CHECK_EQ(fds.sync[0], -1);
    {
        glbridge_record r2;
        CHECK_ST(c, glbridge_open_kmt(c, rec.kmt, &r2, &fds2), GLBRIDGE_OK);
        glbridge_record_free(&r2);
    }
    glbridge_fds_close(&fds2);
    glbridge_fds_close(&fds);
    CHECK_ST(c, glbridge_close(c, rec.kmt), GLBRIDGE_OK);
    glbridge_record_free(&rec);
    glbridge_client_close(c);

    snprintf(path, sizeof path, "%s/nobody.sock", tmpdir);
    CHECK_ST(NULL, glbridge_connect(path, &c), GLBRIDGE_E_CONNECT);
    CHECK(c == NULL);
    after = count_fds();
    CHECK_EQ(after, before);
    printf("ok   connect/allocate/open/close cycle leaves no fd (%d before and after)\n", before);
}

static void test_host_memory(const struct broker *b)
{
    glbridge_client *c = connect_to(b);
    glbridge_record rec, bc1;
    glbridge_fds fds, bfds;
    unsigned char *m;
    uint32_t nt, granted;
    char name[128];
    size_t i;
    pid_t pid;

    CHECK_ST(c, alloc_host(c, desc_tex2d(67, 33, 1, 3, 28), "hello", 5, &rec, &fds), GLBRIDGE_OK);
    check_example_rgba(&rec);
    CHECK_EQ(rec.handle, rec.kmt);
    CHECK_EQ((rec.kmt & 0xC000003Fu), 0x40000002u);
    CHECK_EQ(rec.access, GLBRIDGE_ACCESS_READ | GLBRIDGE_ACCESS_WRITE);
    CHECK_EQ(rec.data_len, 5);
    CHECK(memcmp(rec.data, "hello", 5) == 0);
    fd_valid_cloexec(fds.memory);
    m = mmap(NULL, 11468, PROT_READ | PROT_WRITE, MAP_SHARED, fds.memory, 0);
    CHECK(m != MAP_FAILED);
    for (i = 0; i < 11468; i++)
        m[i] = pattern(i);
    munmap(m, 11468);
    snprintf(name, sizeof name, "libglbridge test host %ld", (long)getpid());
    CHECK_ST(c, glbridge_share(c, rec.kmt, GLBRIDGE_ACCESS_READ | GLBRIDGE_ACCESS_WRITE, name, &nt, &granted),
             GLBRIDGE_OK);
    CHECK_EQ(nt & 3, 0);
    CHECK_EQ(nt & 0xC0000000u, 0);
    CHECK_EQ(granted, GLBRIDGE_ACCESS_READ | GLBRIDGE_ACCESS_WRITE);

    CHECK_ST(c, alloc_host(c, desc_tex2d(20, 12, 2, 3, 71), NULL, 0, &bc1, &bfds), GLBRIDGE_OK);
    check_example_bc1(&bc1);
    CHECK(bc1.data == NULL);

    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        glbridge_client *cc = connect_to(b);
        glbridge_record r;
        glbridge_fds f;
        CHECK_ST(cc, glbridge_open_name(cc, name, GLBRIDGE_ACCESS_READ, &r, &f), GLBRIDGE_OK);
        check_example_rgba(&r);
        CHECK_EQ(r.kmt, rec.kmt);
        CHECK_EQ(r.access, GLBRIDGE_ACCESS_READ);
        CHECK_EQ(r.handle & 3, 0);
        CHECK(r.handle != r.kmt);
        CHECK(r.data_len == 5 && memcmp(r.data, "hello", 5) == 0);
        fd_valid_cloexec(f.memory);
        check_bytes(f.memory, 11468);
        CHECK_ST(cc, glbridge_close(cc, r.handle), GLBRIDGE_OK);
        glbridge_fds_close(&f);
        glbridge_record_free(&r);

        CHECK_ST(cc, glbridge_open_kmt(cc, rec.kmt, &r, &f), GLBRIDGE_OK);
        check_example_rgba(&r);
        CHECK_EQ(r.handle, rec.kmt);
        check_bytes(f.memory, 11468);
        glbridge_fds_close(&f);
        glbridge_record_free(&r);
        CHECK_ST(cc, glbridge_query(cc, rec.kmt, &r), GLBRIDGE_OK);
        check_example_rgba(&r);
        glbridge_record_free(&r);
        CHECK_ST(cc, glbridge_close(cc, rec.kmt), GLBRIDGE_OK);

        CHECK_ST(cc, glbridge_open_kmt(cc, bc1.kmt, &r, &f), GLBRIDGE_OK);
        check_example_bc1(&r);
        {
            struct stat sb;
            CHECK(fstat(f.memory, &sb) == 0);
            CHECK_EQ(sb.st_size, 368);
        }
        glbridge_fds_close(&f);
        glbridge_record_free(&r);
        /* Not the creator: UPDATE_DATA is refused. */
        CHECK_ST(cc, glbridge_update_data(cc, bc1.kmt, "no", 2), GLBRIDGE_E_ACCESS_DENIED);
        glbridge_client_close(cc);
        _exit(0); /* not exit: the parent's inherited allocations are not leaks */
    }
    wait_child(pid, "host-memory opener");
    CHECK_ST(c, glbridge_update_data(c, bc1.kmt, "abc", 3), GLBRIDGE_OK);
    {
        glbridge_record q;
        CHECK_ST(c, glbridge_query(c, bc1.kmt, &q), GLBRIDGE_OK);
        CHECK(q.data_len == 3 && memcmp(q.data, "abc", 3) == 0);
        glbridge_record_free(&q);
    }
    glbridge_fds_close(&fds);
    glbridge_fds_close(&bfds);
    glbridge_record_free(&rec);
    glbridge_record_free(&bc1);
    glbridge_client_close(c);
    printf("ok   host-memory ALLOCATE, shared by name, opened by name and KMT in another process (every byte, GL sections, level layouts)\n");
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static int json_uuid(const char *json, const char *key, uint8_t out[16])
{
    char pat[64];
    const char *p;
    int i;
    snprintf(pat, sizeof pat, "\"%s\": \"", key);
    p = strstr(json, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    for (i = 0; i < 16; i++) {
        int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static void test_device(const struct broker *b)
{
    char cmd[600], json[65536];
    size_t n;
    FILE *f;
    uint8_t drv[16], dev[16];
    glbridge_allocate_params p;
    glbridge_client *c;
    glbridge_record rec;
    glbridge_fds fds;
    glbridge_status st;
    struct stat sb;

    snprintf(cmd, sizeof cmd, "%s info --json 2>/dev/null", glshare);
    f = popen(cmd, "r");
    CHECK(f != NULL);
    n = fread(json, 1, sizeof json - 1, f);
    json[n] = '\0';
    pclose(f);
    if (json_uuid(json, "vk_driver_uuid", drv) != 0 || json_uuid(json, "vk_device_uuid", dev) != 0) {
        printf("SKIP device ALLOCATE: glshare info --json names no Vulkan device\n");
        return;
    }
    c = connect_to(b);
    memset(&p, 0, sizeof p);
    p.desc = desc_tex2d(256, 128, 1, 1, 28);
    p.desc.bind_flags = 0x28;
    memcpy(p.driver_uuid, drv, 16);
    memcpy(p.device_uuid, dev, 16);
    CHECK_ST(c, glbridge_allocate(c, &p, &rec, &fds), GLBRIDGE_OK);
    CHECK(rec.flags & GLBRIDGE_RECORD_SERVICE_ALLOCATED);
    CHECK(rec.alloc.flags & GLBRIDGE_ALLOC_DEDICATED);
    CHECK(!(rec.alloc.flags & GLBRIDGE_ALLOC_HOST_MEMORY));
    CHECK(rec.alloc.size >= 256u * 128u * 4u);
    CHECK(rec.alloc.size < (1u << 30));
    CHECK(rec.alloc.offset < rec.alloc.size);
    CHECK_EQ(rec.alloc.vk_format, 37); /* VK_FORMAT_R8G8B8A8_UNORM */
    CHECK(memcmp(rec.alloc.driver_uuid, drv, 16) == 0);
    CHECK(memcmp(rec.alloc.device_uuid, dev, 16) == 0);
    CHECK_EQ(rec.gl.target, 0x0DE1);
    CHECK_EQ(rec.gl.internal_format, 0x8058);
    CHECK_EQ(rec.gl.width, 256);
    CHECK_EQ(rec.gl.height, 128);
    CHECK_EQ(rec.gl.level_count, 0);
    CHECK_EQ(rec.sync_count, 0);
    fd_valid_cloexec(fds.memory);
    CHECK(fstat(fds.memory, &sb) == 0);
    CHECK_EQ(fds.sync[0], -1);
    glbridge_fds_close(&fds);
    CHECK_ST(c, glbridge_close(c, rec.kmt), GLBRIDGE_OK);
    printf("ok   device ALLOCATE: fd %s, size %llu, vk_format %u, memory type %u\n", "valid",
           (unsigned long long)rec.alloc.size, rec.alloc.vk_format, rec.alloc.memory_type_index);
    glbridge_record_free(&rec);

    /* A buffer: no GL texture view, size at least the width. */
    memset(&p.desc, 0, sizeof p.desc);
    p.desc.dimension = GLBRIDGE_DIM_BUFFER;
    p.desc.width = 4096;
    p.desc.height = p.desc.depth_or_array_size = p.desc.mip_levels = p.desc.sample_count = 1;
    CHECK_ST(c, glbridge_allocate(c, &p, &rec, &fds), GLBRIDGE_OK);
    CHECK(rec.alloc.size >= 4096);
    CHECK_EQ(rec.gl.target, 0);
    fd_valid_cloexec(fds.memory);
    glbridge_fds_close(&fds);
    CHECK_ST(c, glbridge_close(c, rec.kmt), GLBRIDGE_OK);
    glbridge_record_free(&rec);

    /* Binary semaphores: the device exports them, or NO_SEMAPHORE. */
    p.desc = desc_tex2d(64, 64, 1, 1, 28);
    p.sync_kind = GLBRIDGE_SYNC_BINARY;
    p.sync_count = 2;
    st = glbridge_allocate(c, &p, &rec, &fds);
    if (st == GLBRIDGE_OK) {
        CHECK_EQ(rec.sync_count, 2);
        CHECK_EQ(rec.sync_kinds[0], GLBRIDGE_SYNC_BINARY);
        fd_valid_cloexec(fds.sync[0]);
        fd_valid_cloexec(fds.sync[1]);
        glbridge_fds_close(&fds);
        CHECK_ST(c, glbridge_close(c, rec.kmt), GLBRIDGE_OK);
        glbridge_record_free(&rec);
        printf("ok   device ALLOCATE with 2 binary semaphores\n");
    } else {
        CHECK_ST(c, st, GLBRIDGE_E_NO_SEMAPHORE);
        CHECK_EQ(fds.memory, -1);
        printf("ok   device ALLOCATE with semaphores: NO_SEMAPHORE on this device\n");
    }
    /* A timeline with 2 semaphores is not allowed. */
    p.sync_kind = GLBRIDGE_SYNC_TIMELINE;
    CHECK_ST(c, glbridge_allocate(c, &p, &rec, &fds), GLBRIDGE_E_INVALID);
    /* Unknown UUIDs. */
    p.sync_kind = 0;
    p.sync_count = 0;
    memset(p.device_uuid, 0xEE, 16);
    CHECK_ST(c, glbridge_allocate(c, &p, &rec, &fds), GLBRIDGE_E_NO_DEVICE);
    CHECK_EQ(fds.memory, -1);
    glbridge_client_close(c);
    printf("ok   device ALLOCATE refusals (INVALID pair, NO_DEVICE)\n");
}

static void test_create(const struct broker *b)
{
    glbridge_client *c = connect_to(b);
    glbridge_allocation a;
    glbridge_record rec;
    glbridge_fds fds;
    uint32_t kmt, kinds[3] = {GLBRIDGE_SYNC_BINARY, GLBRIDGE_SYNC_TIMELINE, 1}, n;
    int mem, sems[3], i;
    unsigned char data[100];

    for (i = 0; i < 100; i++)
        data[i] = (unsigned char)i;
    memset(&a, 0, sizeof a);
    a.desc = desc_tex2d(64, 64, 1, 1, 28);
    a.vk_format = 37;
    a.size = 16384;
    a.memory_type_index = 1;
    memset(a.driver_uuid, 0x11, 16);
    memset(a.device_uuid, 0x22, 16);
    mem = memfd_create("libglbridge-test", MFD_CLOEXEC);
    CHECK(mem >= 0);
    CHECK(ftruncate(mem, 16384) == 0);
    for (i = 0; i < 3; i++) {
        sems[i] = memfd_create("libglbridge-sem", MFD_CLOEXEC);
        CHECK(sems[i] >= 0);
    }
    CHECK_ST(c, glbridge_create(c, mem, &a, 1, kinds, sems, data, 100, &kmt), GLBRIDGE_OK);
    CHECK_EQ(kmt & 0xC000003Fu, 0x40000002u);
    CHECK_ST(c, glbridge_open_kmt(c, kmt, &rec, &fds), GLBRIDGE_OK);
    CHECK_EQ(rec.flags & GLBRIDGE_RECORD_SERVICE_ALLOCATED, 0);
    CHECK_EQ(rec.sync_count, 1);
    CHECK_EQ(rec.sync_kinds[0], GLBRIDGE_SYNC_BINARY);
    CHECK_EQ(rec.alloc.size, 16384);
    CHECK_EQ(rec.alloc.vk_format, 37);
    CHECK_EQ(rec.alloc.memory_type_index, 1);
    CHECK(memcmp(rec.alloc.device_uuid, a.device_uuid, 16) == 0);
    CHECK_EQ(rec.gl.target, 0x0DE1);
    CHECK(rec.data_len == 100 && memcmp(rec.data, data, 100) == 0);
    fd_valid_cloexec(fds.memory);
    fd_valid_cloexec(fds.sync[0]);
    CHECK_EQ(fds.sync[1], -1);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_OK);

    CHECK_ST(c, glbridge_attach_sync(c, kmt, GLBRIDGE_SYNC_TIMELINE, sems[1], &n), GLBRIDGE_OK);
    CHECK_EQ(n, 2);
    CHECK_ST(c, glbridge_attach_sync(c, kmt, GLBRIDGE_SYNC_BINARY, sems[2], &n), GLBRIDGE_E_LIMIT);
    CHECK_ST(c, glbridge_open_kmt(c, kmt, &rec, &fds), GLBRIDGE_OK);
    CHECK_EQ(rec.sync_count, 2);
    CHECK_EQ(rec.sync_kinds[1], GLBRIDGE_SYNC_TIMELINE);
    fd_valid_cloexec(fds.sync[1]);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_OK);
    /* The last reference went: the KMT handle is stale. */
    CHECK_ST(c, glbridge_query(c, kmt, &rec), GLBRIDGE_E_NOT_FOUND);

    /* Refusals. */
    CHECK_ST(c, glbridge_create(c, mem, &a, 3, kinds, sems, NULL, 0, &kmt), GLBRIDGE_E_ARGUMENT);
    kinds[0] = 7;
    CHECK_ST(c, glbridge_create(c, mem, &a, 1, kinds, sems, NULL, 0, &kmt), GLBRIDGE_E_INVALID);
    a.desc.height = 0;
    CHECK_ST(c, glbridge_create(c, mem, &a, 0, NULL, NULL, NULL, 0, &kmt), GLBRIDGE_E_INVALID_DESC);
    a.desc.height = 64;
    a.flags = GLBRIDGE_ALLOC_HOST_MEMORY; /* an unsealed memfd */
    CHECK_ST(c, glbridge_create(c, mem, &a, 0, NULL, NULL, NULL, 0, &kmt), GLBRIDGE_E_BAD_FDS);
    {
        static unsigned char big[GLBRIDGE_MAX_PRIVATE_DATA + 1];
        a.flags = 0;
        CHECK_ST(c, glbridge_create(c, mem, &a, 0, NULL, NULL, big, sizeof big, &kmt), GLBRIDGE_E_TOO_LARGE);
        CHECK_ST(c, glbridge_create(c, mem, &a, 0, NULL, NULL, big, sizeof big - 1, &kmt), GLBRIDGE_OK);
        CHECK_ST(c, glbridge_query(c, kmt, &rec), GLBRIDGE_OK);
        CHECK_EQ(rec.data_len, GLBRIDGE_MAX_PRIVATE_DATA);
        glbridge_record_free(&rec);
        CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_OK);
    }
    /* The caller still owns its fds. */
    fd_valid_cloexec(mem);
    close(mem);
    for (i = 0; i < 3; i++)
        close(sems[i]);
    glbridge_client_close(c);
    printf("ok   CREATE with sync fds, ATTACH_SYNC up to LIMIT, UPDATE_DATA, refusals\n");
}

static void test_errors(const struct broker *b, const struct broker *quota)
{
    glbridge_client *c = connect_to(b), *q;
    glbridge_record rec, r2;
    glbridge_fds fds, f2;
    glbridge_allocate_params p;
    uint32_t nt, nt2, bogus = (((200u << 16) | 9999u) << 6) | 0x40000002u;
    char name[300], err[512];
    pid_t pid;

    CHECK_ST(c, glbridge_open_kmt(c, bogus, &rec, &fds), GLBRIDGE_E_NOT_FOUND);
    CHECK_EQ(fds.memory, -1);
    CHECK_ST(c, glbridge_last_error(c, err, sizeof err), GLBRIDGE_OK);
    CHECK(err[0] != '\0');
    CHECK_ST(c, glbridge_open_kmt(c, 5, &rec, &fds), GLBRIDGE_E_BAD_HANDLE);
    CHECK_ST(c, glbridge_query(c, 0x1234, &rec), GLBRIDGE_E_NOT_FOUND);
    CHECK_ST(c, glbridge_close(c, 7), GLBRIDGE_E_BAD_HANDLE);
    CHECK_ST(c, glbridge_close(c, bogus), GLBRIDGE_E_NOT_FOUND);
    CHECK_ST(c, glbridge_open_name(c, "libglbridge no such name", GLBRIDGE_ACCESS_READ, &rec, &fds),
             GLBRIDGE_E_NOT_FOUND);
    CHECK_ST(c, glbridge_open_name(c, "bad\tname", GLBRIDGE_ACCESS_READ, &rec, &fds), GLBRIDGE_E_BAD_NAME);
    CHECK_ST(c, glbridge_open_name(c, "", GLBRIDGE_ACCESS_READ, &rec, &fds), GLBRIDGE_E_BAD_NAME);
    memset(name, 'n', 256);
    name[256] = '\0';
    CHECK_ST(c, glbridge_open_name(c, name, GLBRIDGE_ACCESS_READ, &rec, &fds), GLBRIDGE_E_BAD_NAME);

    CHECK_ST(c, alloc_host(c, desc_tex2d(8, 8, 1, 1, 28), NULL, 0, &rec, &fds), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, rec.kmt, GLBRIDGE_ACCESS_READ, "bad\xe2\x80\xaename", &nt, NULL),
             GLBRIDGE_E_BAD_NAME); /* U+202E, a format character */
    /* Access 0 grants nothing, as Windows says (STATUS_ACCESS_DENIED);
       bits that are no right are invalid. */
    CHECK_ST(c, glbridge_share(c, rec.kmt, 0, NULL, &nt, NULL), GLBRIDGE_E_ACCESS_DENIED);
    CHECK_ST(c, glbridge_share(c, rec.kmt, 2, NULL, &nt, NULL), GLBRIDGE_E_INVALID);
    snprintf(name, sizeof name, "libglbridge read-only %ld", (long)getpid());
    CHECK_ST(c, glbridge_share(c, rec.kmt, GLBRIDGE_ACCESS_READ, name, &nt, NULL), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, rec.kmt, GLBRIDGE_ACCESS_READ, name, &nt2, NULL), GLBRIDGE_E_NAME_TAKEN);
    /* An NT handle may not grant more than it has. */
    CHECK_ST(c, glbridge_share(c, nt, GLBRIDGE_ACCESS_WRITE, NULL, &nt2, NULL), GLBRIDGE_E_ACCESS_DENIED);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        glbridge_client *cc = connect_to(b);
        /* A name grants every right, whatever its sharer's handle has, as
           a named object's default security does on Windows. */
        CHECK_ST(cc, glbridge_open_name(cc, name, GLBRIDGE_ACCESS_READ | GLBRIDGE_ACCESS_WRITE, &r2, &f2), GLBRIDGE_OK);
        CHECK_EQ(r2.access, GLBRIDGE_ACCESS_READ | GLBRIDGE_ACCESS_WRITE);
        CHECK_ST(cc, glbridge_close(cc, r2.handle), GLBRIDGE_OK);
        glbridge_fds_close(&f2);
        glbridge_record_free(&r2);
        CHECK_ST(cc, glbridge_open_name(cc, name, GLBRIDGE_ACCESS_READ, &r2, &f2), GLBRIDGE_OK);
        CHECK_EQ(r2.access, GLBRIDGE_ACCESS_READ);
        /* Another connection's NT handle is not this one's. */
        CHECK_ST(cc, glbridge_close(cc, nt), nt == r2.handle ? GLBRIDGE_OK : GLBRIDGE_E_NOT_FOUND);
        glbridge_fds_close(&f2);
        glbridge_record_free(&r2);
        glbridge_client_close(cc);
        _exit(0); /* not exit: the parent's inherited allocations are not leaks */
    }
    wait_child(pid, "access checks");
    /* Private data limits, found locally. */
    {
        static unsigned char big[GLBRIDGE_MAX_PRIVATE_DATA + 1];
        CHECK_ST(c, glbridge_update_data(c, rec.kmt, big, sizeof big), GLBRIDGE_E_TOO_LARGE);
    }
    /* An invalid Desc. */
    memset(&p, 0, sizeof p);
    p.flags = GLBRIDGE_ALLOCATE_HOST_MEMORY;
    p.desc = desc_tex2d(8, 0, 1, 1, 28);
    CHECK_ST(c, glbridge_allocate(c, &p, &r2, &f2), GLBRIDGE_E_INVALID_DESC);
    CHECK_ST(c, glbridge_last_error(c, err, sizeof err), GLBRIDGE_OK);
    CHECK(strstr(err, "Height") != NULL || strstr(err, "height") != NULL);
    /* Host memory of a buffer. */
    memset(&p.desc, 0, sizeof p.desc);
    p.desc.dimension = GLBRIDGE_DIM_BUFFER;
    p.desc.width = 64;
    p.desc.height = p.desc.depth_or_array_size = p.desc.mip_levels = p.desc.sample_count = 1;
    CHECK_ST(c, glbridge_allocate(c, &p, &r2, &f2), GLBRIDGE_E_UNSUPPORTED_FORMAT);
    /* Semaphores with host memory. */
    p.desc = desc_tex2d(8, 8, 1, 1, 28);
    p.sync_kind = GLBRIDGE_SYNC_BINARY;
    p.sync_count = 1;
    CHECK_ST(c, glbridge_allocate(c, &p, &r2, &f2), GLBRIDGE_E_INVALID);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    glbridge_client_close(c);

    /* Quota: a broker with --quota-resources-per-conn 1. */
    q = connect_to(quota);
    CHECK_ST(q, alloc_host(q, desc_tex2d(8, 8, 1, 1, 28), NULL, 0, &rec, &fds), GLBRIDGE_OK);
    CHECK_ST(q, alloc_host(q, desc_tex2d(8, 8, 1, 1, 28), NULL, 0, &r2, &f2), GLBRIDGE_E_QUOTA);
    CHECK_EQ(f2.memory, -1);
    CHECK_ST(q, glbridge_close(q, rec.kmt), GLBRIDGE_OK);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    /* Freeing makes room again. */
    CHECK_ST(q, alloc_host(q, desc_tex2d(8, 8, 1, 1, 28), NULL, 0, &rec, &fds), GLBRIDGE_OK);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    glbridge_client_close(q);
    printf("ok   errors: NOT_FOUND, BAD_HANDLE, BAD_NAME, NAME_TAKEN, ACCESS_DENIED, INVALID, TOO_LARGE, INVALID_DESC, UNSUPPORTED_FORMAT, QUOTA\n");
}

static glbridge_list_entry *find_entry(glbridge_list_entry *e, size_t n, uint32_t kmt)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (e[i].kmt == kmt)
            return &e[i];
    return NULL;
}

static void test_keyed_mutex(const struct broker *b)
{
    glbridge_client *c = connect_to(b);
    glbridge_record rec;
    glbridge_fds fds;
    glbridge_list_entry *le;
    size_t ln;
    uint64_t value;
    int abandoned, pfd[2];
    uint32_t nt2;
    char name[128], ch;
    double t0, dt;
    pid_t a, bpid;

    CHECK_ST(c, alloc_host(c, desc_tex2d(4, 4, 1, 1, 28), NULL, 0, &rec, &fds), GLBRIDGE_OK);
    snprintf(name, sizeof name, "libglbridge mutex %ld", (long)getpid());
    CHECK_ST(c, glbridge_share(c, rec.kmt, GLBRIDGE_ACCESS_READ | GLBRIDGE_ACCESS_WRITE, name, &nt2, NULL),
             GLBRIDGE_OK);

    a = fork();
    CHECK(a >= 0);
    if (a == 0) {
        glbridge_client *cc = connect_to(b);
        glbridge_record r;
        glbridge_fds f;
        uint64_t v = 99;
        int ab = 1;
        CHECK_ST(cc, glbridge_open_name(cc, name, GLBRIDGE_ACCESS_READ, &r, &f), GLBRIDGE_OK);
        CHECK_ST(cc, glbridge_acquire_sync(cc, r.handle, 0, 60000, &v, &ab), GLBRIDGE_OK);
        CHECK_EQ(v, 0);
        CHECK_EQ(ab, 0);
        CHECK_ST(cc, glbridge_acquire_sync(cc, r.handle, 0, 0, NULL, NULL), GLBRIDGE_E_INVALID);
        CHECK_ST(cc, glbridge_release_sync(cc, r.handle, 1, 7), GLBRIDGE_OK);
        CHECK_ST(cc, glbridge_release_sync(cc, r.handle, 1, 7), GLBRIDGE_E_ACCESS_DENIED);
        glbridge_fds_close(&f);
        glbridge_record_free(&r);
        glbridge_client_close(cc);
        _exit(0); /* not exit: the parent's inherited allocations are not leaks */
    }
    wait_child(a, "keyed mutex A");
    CHECK_ST(c, glbridge_acquire_sync(c, rec.kmt, 1, 60000, &value, &abandoned), GLBRIDGE_OK);
    CHECK_EQ(value, 7);
    CHECK_EQ(abandoned, 0);
    /* Another handle of this connection is another owner: a wrong key times out. */
    t0 = now_s();
    CHECK_ST(c, glbridge_acquire_sync(c, nt2, 5, 300, &value, &abandoned), GLBRIDGE_E_TIMEOUT);
    dt = now_s() - t0;
    CHECK(dt < 120.0);
    CHECK_ST(c, glbridge_acquire_sync(c, nt2, 1, 0, &value, &abandoned), GLBRIDGE_E_TIMEOUT);
    CHECK_ST(c, glbridge_release_sync(c, nt2, 2, 9), GLBRIDGE_E_ACCESS_DENIED);
    CHECK_ST(c, glbridge_release_sync(c, rec.kmt, 2, 9), GLBRIDGE_OK);

    CHECK(pipe2(pfd, O_CLOEXEC) == 0);
    bpid = fork();
    CHECK(bpid >= 0);
    if (bpid == 0) {
        glbridge_client *cc = connect_to(b);
        glbridge_record r;
        glbridge_fds f;
        uint64_t v = 0;
        close(pfd[0]);
        CHECK_ST(cc, glbridge_open_name(cc, name, GLBRIDGE_ACCESS_READ, &r, &f), GLBRIDGE_OK);
        CHECK_ST(cc, glbridge_acquire_sync(cc, r.handle, 2, 60000, &v, NULL), GLBRIDGE_OK);
        CHECK_EQ(v, 9);
        CHECK(write(pfd[1], "1", 1) == 1);
        for (;;)
            pause(); /* killed with SIGKILL while holding the mutex */
    }
    close(pfd[1]);
    CHECK(read(pfd[0], &ch, 1) == 1);
    close(pfd[0]);
    CHECK_ST(c, glbridge_list(c, GLBRIDGE_LIST_SYNC_STATE, &le, &ln), GLBRIDGE_OK);
    {
        glbridge_list_entry *e = find_entry(le, ln, rec.kmt);
        CHECK(e != NULL);
        CHECK(e->has_sync);
        CHECK_EQ(e->sync.mutex_state, 1);
        CHECK_EQ(e->sync.holder_pid, bpid);
        CHECK_EQ(e->sync.last_key, 2);
        CHECK_EQ(e->sync.last_value, 9);
    }
    glbridge_list_free(le, ln);
    kill(bpid, SIGKILL);
    {
        int st;
        CHECK(waitpid(bpid, &st, 0) == bpid);
    }
    /* Whichever key: the next acquirer gets the abandoned mutex. */
    CHECK_ST(c, glbridge_acquire_sync(c, rec.kmt, 1234, 60000, &value, &abandoned), GLBRIDGE_OK);
    CHECK_EQ(abandoned, 1);
    CHECK_EQ(value, 9);
    CHECK_ST(c, glbridge_release_sync(c, rec.kmt, 0, 0), GLBRIDGE_OK);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    glbridge_client_close(c);
    printf("ok   keyed mutex across processes: keys, values, TIMEOUT after %.2f s, INVALID, ACCESS_DENIED, abandoned after kill -9\n", dt);
}

#define LIST_N 60

static void test_list(const struct broker *b)
{
    glbridge_client *c = connect_to(b);
    uint32_t kmts[LIST_N], nt;
    glbridge_list_entry *le;
    size_t ln, i;
    int k;

    for (i = 0; i < LIST_N; i++) {
        glbridge_record rec;
        glbridge_fds fds;
        CHECK_ST(c, alloc_host(c, desc_tex2d(4, 4, 1, 1, 28), NULL, 0, &rec, &fds), GLBRIDGE_OK);
        kmts[i] = rec.kmt;
        glbridge_fds_close(&fds);
        glbridge_record_free(&rec);
        for (k = 0; k < 8; k++) {
            char name[256];
            int len = snprintf(name, sizeof name, "libglbridge list %ld %lu %d ", (long)getpid(),
                               (unsigned long)i, k);
            memset(name + len, 'x', 200 - (size_t)len);
            name[200] = '\0';
            CHECK_ST(c, glbridge_share(c, kmts[i], GLBRIDGE_ACCESS_READ, name, &nt, NULL), GLBRIDGE_OK);
        }
    }
    CHECK_ST(c, glbridge_share(c, kmts[0], GLBRIDGE_ACCESS_READ, "libglbridge ninth name", &nt, NULL),
             GLBRIDGE_E_LIMIT);
    CHECK_ST(c, glbridge_list(c, GLBRIDGE_LIST_SYNC_STATE, &le, &ln), GLBRIDGE_OK);
    CHECK(ln >= LIST_N);
    for (i = 0; i < LIST_N; i++) {
        glbridge_list_entry *e = find_entry(le, ln, kmts[i]);
        char want[64];
        CHECK(e != NULL);
        CHECK_EQ(e->name_count, 8);
        snprintf(want, sizeof want, "libglbridge list %ld %lu 3 ", (long)getpid(), (unsigned long)i);
        CHECK(strncmp(e->names[3], want, strlen(want)) == 0);
        CHECK_EQ(strlen(e->names[7]), 200);
        CHECK_EQ(e->creator_pid, getpid());
        CHECK(e->flags & 1);
        CHECK(e->holder_count >= 1);
        CHECK_EQ(e->holders[0].pid, getpid());
        CHECK_EQ(e->holders[0].uid, getuid());
        CHECK_EQ(e->refs, 9); /* the allocation and 8 NT handles */
        CHECK_EQ(e->origin_flags, GLBRIDGE_RECORD_SERVICE_ALLOCATED);
        CHECK(strcmp(e->device_name, "host memory") == 0);
        CHECK_EQ(e->alloc.size, 64);
        CHECK(e->has_sync);
        CHECK_EQ(e->sync.sync_count, 0);
        CHECK_EQ(e->sync.mutex_state, 0);
    }
    glbridge_list_free(le, ln);
    CHECK_ST(c, glbridge_list(c, 0, &le, &ln), GLBRIDGE_OK);
    CHECK(ln >= LIST_N);
    CHECK(find_entry(le, ln, kmts[LIST_N - 1]) != NULL);
    CHECK(!find_entry(le, ln, kmts[0])->has_sync);
    glbridge_list_free(le, ln);
    CHECK_ST(c, glbridge_list(c, 2, &le, &ln), GLBRIDGE_E_ARGUMENT);
    glbridge_client_close(c);
    printf("ok   LIST over several pages (%d resources with 8 names of 200 bytes), origin and sync sections\n", LIST_N);
}

struct thread_arg {
    glbridge_client *c;
    uint32_t kmt;
    int fails;
};

static void *thread_main(void *p)
{
    struct thread_arg *t = p;
    int i;
    for (i = 0; i < 100; i++) {
        glbridge_record rec;
        glbridge_fds fds;
        uint32_t nt;
        if (glbridge_query(t->c, t->kmt, &rec) != GLBRIDGE_OK || rec.kmt != t->kmt)
            t->fails++;
        glbridge_record_free(&rec);
        if (glbridge_open_kmt(t->c, t->kmt, &rec, &fds) != GLBRIDGE_OK || fds.memory < 0)
            t->fails++;
        glbridge_fds_close(&fds);
        glbridge_record_free(&rec);
        if (glbridge_close(t->c, t->kmt) != GLBRIDGE_OK)
            t->fails++;
        if (glbridge_share(t->c, t->kmt, GLBRIDGE_ACCESS_READ, NULL, &nt, NULL) != GLBRIDGE_OK ||
            glbridge_close(t->c, nt) != GLBRIDGE_OK)
            t->fails++;
    }
    return NULL;
}

static void test_threads(const struct broker *b)
{
    glbridge_client *c = connect_to(b);
    glbridge_record rec;
    glbridge_fds fds;
    pthread_t th[4];
    struct thread_arg ta[4];
    int i;

    CHECK_ST(c, alloc_host(c, desc_tex2d(4, 4, 1, 1, 28), NULL, 0, &rec, &fds), GLBRIDGE_OK);
    for (i = 0; i < 4; i++) {
        ta[i].c = c;
        ta[i].kmt = rec.kmt;
        ta[i].fails = 0;
        CHECK(pthread_create(&th[i], NULL, thread_main, &ta[i]) == 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(ta[i].fails, 0);
    }
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    glbridge_client_close(c);
    printf("ok   4 threads x 100 rounds of QUERY/OPEN_KMT/CLOSE/SHARE on one client\n");
}

static void test_dead_broker(void)
{
    struct broker d;
    glbridge_client *c;
    glbridge_record rec;
    glbridge_fds fds;
    glbridge_status st;
    char err[512];
    int before, after;

    broker_start(&d, "dead", NULL, NULL);
    before = count_fds();
    c = connect_to(&d);
    CHECK_ST(c, alloc_host(c, desc_tex2d(4, 4, 1, 1, 28), NULL, 0, &rec, &fds), GLBRIDGE_OK);
    broker_kill(&d, SIGKILL);
    st = glbridge_query(c, rec.kmt, &rec);
    if (st != GLBRIDGE_E_CLOSED && st != GLBRIDGE_E_IO)
        FAIL("query on a dead broker: %d (%s)", (int)st, glbridge_strerror(st));
    CHECK_ST(c, glbridge_close(c, rec.kmt), GLBRIDGE_E_CLOSED);
    CHECK_ST(c, glbridge_last_error(c, err, sizeof err), GLBRIDGE_OK);
    CHECK(err[0] != '\0');
    /* The fd received before stays valid. */
    {
        struct stat sb;
        CHECK(fstat(fds.memory, &sb) == 0);
        CHECK_EQ(sb.st_size, 64);
    }
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    glbridge_client_close(c);
    CHECK_ST(NULL, glbridge_connect(d.sock, &c), GLBRIDGE_E_CONNECT);
    after = count_fds();
    CHECK_EQ(after, before);
    printf("ok   dead broker: %s, then CLOSED; no fd leak (%d fds before and after)\n", glbridge_strerror(st), before);
}

int main(int argc, char **argv)
{
    struct broker main_b, quota_b;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH/TO/glshare\n", argv[0]);
        return 2;
    }
    glshare = argv[1];
    if (access(glshare, X_OK) != 0) {
        fprintf(stderr, "%s: not executable (run make build)\n", glshare);
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    CHECK(mkdtemp(tmpdir) != NULL);
    signal(SIGPIPE, SIG_IGN);

    test_default_path();
    test_strerror();
    broker_start(&main_b, "main", NULL, NULL);
    broker_start(&quota_b, "quota", "--quota-resources-per-conn", "1");
    test_fd_cycle(&main_b);
    test_host_memory(&main_b);
    test_create(&main_b);
    test_errors(&main_b, &quota_b);
    test_keyed_mutex(&main_b);
    test_list(&main_b);
    test_device(&main_b);
    test_threads(&main_b);
    test_dead_broker();

    broker_kill(&quota_b, SIGTERM);
    broker_kill(&main_b, SIGTERM);
    {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("PASS libglbridge\n");
    return 0;
}
