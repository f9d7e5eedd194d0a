package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile places f on node through h.CopyIn, replacing what is there:
// for a file that changes after the node's first start (NodeSpec.Files
// are placed only before it), such as a configuration rewritten before
// a Restart. The content goes through a temporary file on the
// controller, removed before WriteFile returns. The file is owned by the
// runtime's default user (root on local and docker).
func WriteFile(ctx context.Context, h Hosts, node string, f File) error {
	dir, err := os.MkdirTemp("", "chaoscheck-file-")
	if err != nil {
		return fmt.Errorf("write %s on %s: %w", f.Path, node, err)
	}
	defer os.RemoveAll(dir)
	mode := f.Mode.Perm()
	if mode == 0 {
		mode = 0o644
	}
	tmp := filepath.Join(dir, filepath.Base(f.Path))
	if err := os.WriteFile(tmp, f.Data, mode); err != nil {
		return fmt.Errorf("write %s on %s: %w", f.Path, node, err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fmt.Errorf("write %s on %s: %w", f.Path, node, err)
	}
	if err := h.CopyIn(ctx, node, tmp, f.Path); err != nil {
		return fmt.Errorf("write %s on %s: %w", f.Path, node, err)
	}
	return nil
}
