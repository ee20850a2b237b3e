package main

import (
	"strings"
	"testing"
)

func TestInfoJSON(t *testing.T) {
	r, err := gatherInfo("")
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
