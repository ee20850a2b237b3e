package main

import (
	"strings"
	"testing"

	"github.com/glbridge/glbridge/share"
)

// TestInfoSharePath: info reports the share path: zero-copy where GL and
// Vulkan match (as on the test machines), the copy path and why under
// GLBRIDGE_FORCE_COPY=1.
func TestInfoSharePath(t *testing.T) {
	r, err := gatherInfo("", noBroker(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.SharePath != share.ZeroCopy.String() || r.ShareReason != "" {
		t.Fatalf("share path %q (%q) on a machine with uuid_match=%v memory_fd=%v", r.SharePath, r.ShareReason, r.UUIDMatch, r.MemoryFD)
	}
	t.Setenv(share.ForceCopyEnv, "1")
	if r, err = gatherInfo("", noBroker(t)); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	printInfo(&sb, r)
	if !strings.Contains(sb.String(), "share path:         "+share.CopyVulkan.String()+"\n") || !strings.Contains(sb.String(), "because forced by "+share.ForceCopyEnv) {
		t.Fatalf("text report under %s=1:\n%s", share.ForceCopyEnv, sb.String())
	}
}
