package vkalloc

import (
	"testing"

	"github.com/glbridge/glbridge/internal/vk"
)

// TestRestingLayout: the exported constant is the binding's
// VK_IMAGE_LAYOUT_GENERAL, written out so that the API names no binding
// value.
func TestRestingLayout(t *testing.T) {
	if RestingLayout != vk.ImageLayoutGeneral {
		t.Fatalf("RestingLayout = %d, VK_IMAGE_LAYOUT_GENERAL = %d", RestingLayout, vk.ImageLayoutGeneral)
	}
}
