package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// PrepareStateDir creates a target's state directory (a new temporary one,
// chaoscheck-<target>-*, when dir is empty), makes it searchable, and,
// when the servers run as an unprivileged user (uid != 0), checks that
// every ancestor is searchable by others: a server that cannot reach its
// data directory fails at start with an error far from the cause.
func PrepareStateDir(dir, target string, uid uint32) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "chaoscheck-"+target+"-")
		if err != nil {
			return "", fmt.Errorf("%s: state dir: %w", target, err)
		}
		dir = d
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("%s: state dir: %w", target, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("%s: state dir: %w", target, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("%s: state dir: %w", target, err)
	}
	if uid == 0 {
		return dir, nil
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("%s: state dir ancestor: %w", target, err)
		}
		if st.Mode().Perm()&0o001 == 0 {
			return "", fmt.Errorf("%s: state dir %s: ancestor %s (mode %v) is not searchable by uid %d, which the servers run as; choose a state dir under a world-searchable directory", target, dir, p, st.Mode().Perm(), uid)
		}
		if p == filepath.Dir(p) {
			break
		}
	}
	return dir, nil
}

// Fresh is how a target brings up its cluster: it removes what crashed
// earlier runs left (HealAll: note that this also removes live clusters of
// this very process), prepares the state directory for servers running as
// uid (PrepareStateDir; cfg.StateDir empty: a new temporary one), picks a
// random prefix when cfg has none, and calls Up.
func Fresh(ctx context.Context, target string, uid uint32, cfg Config) (*Cluster, error) {
	if _, err := HealAll(ctx, ""); err != nil {
		return nil, fmt.Errorf("%s: remove leftovers of earlier runs: %w", target, err)
	}
	dir, err := PrepareStateDir(cfg.StateDir, target, uid)
	if err != nil {
		return nil, err
	}
	cfg.StateDir = dir
	if cfg.Prefix == "" {
		cfg.Prefix = RandomPrefix()
	}
	c, err := Up(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", target, err)
	}
	return c, nil
}
