// cpp-consumer is the DXVK role written in C++17 against libglbridge's one
// header: it opens a shared texture by name through the broker and reads
// what the record says it needs to know, with no Vulkan, no GL and no
// format table of its own. Where the memory is host memory (a GL without
// GL_EXT_memory_object_fd shared it, or the producer forced the copy
// path), it maps it and writes the top level of the first layer, laid out
// as the record's level layout says, to OUT, which its test compares with
// the test pattern; where it is Vulkan memory it says which GL texture the
// record describes and leaves the import to GL or Vulkan.
//
//	make build samples
//	bin/glshare serve &
//	GLBRIDGE_FORCE_COPY=1 bin/producer -service -name 'Local\glbridge-sample' &
//	bin/cpp-consumer "$XDG_RUNTIME_DIR/glbridge/broker.sock" 'Local\glbridge-sample' top.rgba
//
// It exits with status 0 and a line starting "OK:" when it read what the
// record promises, 1 with the reason otherwise.
#include <glbridge.h>

#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

// failure is what main reports: the call and the status.
struct failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

void check(glbridge_status s, const std::string &what, glbridge_client *c = nullptr) {
    if (s == GLBRIDGE_OK)
        return;
    char detail[256] = "";
    if (c != nullptr)
        glbridge_last_error(c, detail, sizeof detail);
    throw failure(what + ": " + glbridge_strerror(s) + (detail[0] ? std::string(": ") + detail : ""));
}

// What an open returned, released whatever happens.
struct opened {
    glbridge_record rec{};
    glbridge_fds fds{-1, {-1, -1}};
    ~opened() {
        glbridge_fds_close(&fds);
        glbridge_record_free(&rec);
    }
};

struct client_closer {
    void operator()(glbridge_client *c) const { glbridge_client_close(c); }
};

int run(const char *socket, const char *name, const char *out) {
    glbridge_client *raw = nullptr;
    check(glbridge_connect(socket, &raw), std::string("connect to ") + socket + " (is `glshare serve` running?)");
    std::unique_ptr<glbridge_client, client_closer> client(raw);

    opened r;
    check(glbridge_open_name(client.get(), name, GLBRIDGE_ACCESS_READ, &r.rec, &r.fds),
          std::string("open name ") + name, client.get());
    const glbridge_record &rec = r.rec;
    const glbridge_gl_section &gl = rec.gl;
    std::printf("record: KMT %#x, %ux%u DXGI format %u, %s%s; GL target %#x, internal format %#x, %u level(s)\n",
                rec.kmt, rec.alloc.desc.width, rec.alloc.desc.height, rec.alloc.desc.format,
                (rec.alloc.flags & GLBRIDGE_ALLOC_HOST_MEMORY) ? "host memory" : "Vulkan memory",
                (rec.flags & GLBRIDGE_RECORD_SERVICE_ALLOCATED) ? " the broker allocated" : "",
                gl.target, gl.internal_format, gl.levels);
    if (gl.target == 0)
        throw failure("the record describes no GL texture");

    if (!(rec.alloc.flags & GLBRIDGE_ALLOC_HOST_MEMORY)) {
        std::printf("OK: Vulkan memory of %llu bytes for glImportMemoryFdEXT, then the storage call of target %#x (%ux%ux%u)\n",
                    static_cast<unsigned long long>(rec.alloc.size), gl.target, gl.width, gl.height, gl.depth);
        return 0;
    }
    if (gl.level_count == 0)
        throw failure("host memory without level layouts");
    const glbridge_level_layout &top = rec.levels[0];
    void *mem = mmap(nullptr, rec.alloc.size, PROT_READ, MAP_SHARED, r.fds.memory, 0);
    if (mem == MAP_FAILED)
        throw failure("mmap of the host memory failed");
    const auto *bytes = static_cast<const std::uint8_t *>(mem) + top.offset;
    std::FILE *f = std::fopen(out, "wb");
    if (f == nullptr)
        throw failure(std::string("cannot write ") + out);
    // Rows are tightly packed (row_pitch bytes each), the top row first.
    std::size_t n = std::fwrite(bytes, 1, static_cast<std::size_t>(top.row_pitch) * top.rows, f);
    bool ok = n == static_cast<std::size_t>(top.row_pitch) * top.rows && std::fclose(f) == 0;
    munmap(mem, rec.alloc.size);
    if (!ok)
        throw failure(std::string("writing ") + out + " failed");
    std::printf("OK: wrote %zu bytes of level 0 (%ux%u, %u bytes a row) to %s\n", n, top.width, top.height, top.row_pitch, out);
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s SOCKET NAME OUT\n", argv[0]);
        return 2;
    }
    try {
        return run(argv[1], argv[2], argv[3]);
    } catch (const failure &e) {
        std::fprintf(stderr, "cpp-consumer: %s\n", e.what());
        return 1;
    }
}
