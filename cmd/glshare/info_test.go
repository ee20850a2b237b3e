package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/headless"
)

func TestInfoJSON(t *testing.T) {
	r, err := gatherInfo("", noBroker(t))
	if err != nil {
		t.Fatal(err)
	}
	m, b := printedJSON(t, r)
	for _, k := range []string{"gl_renderer", "vk_device", "uuid_match", "memory_fd", "semaphore_fd", "sync_path", "extensions"} {
		if _, ok := m[k]; !ok {
			t.Errorf("info --json lacks %q: %s", k, b)
		}
	}
	// Where the tests run (Mesa in CI, NVIDIA on the GPU machine), GL and
	// Vulkan are one driver on one device: anything else is a regression.
	if !r.UUIDMatch || !r.MemoryFD || r.GLRenderer == "" || r.VKDevice == "" {
		t.Fatalf("info on the test machine: %s", b)
	}
	if r.GLDriverUUID != r.VKDriverUUID || r.GLDeviceUUID != r.VKDeviceUUID {
		t.Fatalf("uuid_match with different UUIDs: %s", b)
	}
	if !r.Extensions["GL_EXT_memory_object_fd"] || !r.Extensions["VK_KHR_external_memory_fd"] {
		t.Fatalf("memory_fd without both extensions: %s", b)
	}
	want := "fallback (fences)"
	switch {
	case r.TimelineSemaphore:
		want = "timeline semaphore"
	case r.SemaphoreFD:
		want = "binary semaphores"
	}
	if r.SyncPath != want {
		t.Fatalf("sync_path %q with semaphore_fd=%v timeline=%v", r.SyncPath, r.SemaphoreFD, r.TimelineSemaphore)
	}
	var sb strings.Builder
	printInfo(&sb, r)
	if !strings.Contains(sb.String(), r.GLRenderer) || !strings.Contains(sb.String(), "UUIDs match:        yes") {
		t.Fatalf("text report:\n%s", sb.String())
	}
}

// noBroker is a socket path no broker listens on.
func noBroker(t *testing.T) string { return filepath.Join(t.TempDir(), "no-broker.sock") }

// TestInfoServiceAllocation: info asks a real glshare serve to allocate for
// its GL and says so: zero-copy on the broker's device of GL's UUIDs (the
// Vulkan device info matched, imported into GL), leaving nothing
// allocated behind; "no: " and the refusal from a broker whose quota
// refuses it; "no broker at" a socket nobody listens on.
func TestInfoServiceAllocation(t *testing.T) {
	sock, log := startServe(t)
	r, err := gatherInfo("", sock)
	if err != nil {
		t.Fatal(err)
	}
	want := "yes (" + r.VKDevice + ", zero-copy)"
	if r.VKDevice == "" || r.ServiceAllocation != want || !r.ServiceAllocates || r.ServiceDevice != r.VKDevice || r.ServicePath != "zero-copy" || r.ServiceError != "" {
		t.Fatalf("service check against a broker on a machine where GL and Vulkan match: %+v, want %q\n%s", r.serviceInfo, want, log.String())
	}
	var sb strings.Builder
	printInfo(&sb, r)
	if !strings.Contains(sb.String(), "\nservice allocation: "+want+"\n") {
		t.Fatalf("text report:\n%s", sb.String())
	}
	m, b := printedJSON(t, r)
	for k, v := range map[string]any{"service_socket": sock, "service_allocation": want, "service_allocates": true, "service_device": r.VKDevice, "service_path": "zero-copy"} {
		if m[k] != v {
			t.Errorf("info --json: %q is %v, want %v: %s", k, m[k], v, b)
		}
	}
	c := dial(t, sock)
	if l, err := c.List(); err != nil || len(l) != 0 {
		t.Fatalf("after info the broker holds %+v (%v), want nothing", l, err)
	}

	quota, _ := startServe(t, "--quota-bytes-per-conn", "1")
	if r, err = gatherInfo("", quota); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.ServiceAllocation, "no: ") || !strings.Contains(r.ServiceAllocation, bridge.ErrQuota.Error()) || r.ServiceAllocates || r.ServiceError == "" {
		t.Fatalf("service check against a broker with a 1-byte quota: %+v", r.serviceInfo)
	}

	none := noBroker(t)
	if r, err = gatherInfo("", none); err != nil {
		t.Fatal(err)
	}
	if r.ServiceAllocation != "no broker at "+none || r.ServiceAllocates || r.ServiceError == "" {
		t.Fatalf("service check without a broker: %+v", r.serviceInfo)
	}
}

// TestInfoServiceHostMemory: for a GL without GL_EXT_memory_object_fd
// (the test's GL identity with the extension taken away), the service
// check has the broker allocate host memory and says so.
func TestInfoServiceHostMemory(t *testing.T) {
	sock, _ := startServe(t)
	ctx, err := headless.New(headless.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	var id glimport.Identity
	ctx.Call(func() {
		if err = glimport.Init(ctx.ProcAddr); err == nil {
			id, err = glimport.QueryIdentity()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	id.MemoryObjectFD = false
	s := checkService(ctx, id, sock)
	if want := (serviceInfo{ServiceSocket: sock, ServiceAllocation: "yes (host memory, copy path)", ServiceAllocates: true, ServiceDevice: "host memory", ServicePath: "copy"}); s != want {
		t.Fatalf("service check for a GL without memory objects: %+v, want %+v", s, want)
	}
	if l, err := dial(t, sock).List(); err != nil || len(l) != 0 {
		t.Fatalf("after the check the broker holds %+v (%v), want nothing", l, err)
	}
}
