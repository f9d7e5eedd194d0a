//go:build linux

package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/internal/testenv"
)

// Reset empties the deployment (testenv.ResetEmptiesTheData).
func TestResetEmptiesTheData(t *testing.T) {
	requireEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tg, err := New(newConfig(t, Config{}))
	if err != nil {
		t.Fatal(err)
	}
	dep, err := tg.Deploy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := dep.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	testenv.ResetEmptiesTheData(ctx, t, dep)
}
