// Package testenv gives tests the real services that scripts/test.sh
// (make test) starts. A missing service fails the test; nothing is skipped.
package testenv

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// ORTLibrary returns the ONNX Runtime library path from PAIMENG_ORT_LIBRARY.
func ORTLibrary(t testing.TB) string {
	t.Helper()
	lib := os.Getenv("PAIMENG_ORT_LIBRARY")
	if lib == "" {
		t.Fatal("PAIMENG_ORT_LIBRARY not set: run make test")
	}
	return lib
}

// RedisURL returns the throwaway test Redis at database index db, flushed.
// Packages run in parallel, so each uses its own index.
func RedisURL(t testing.TB, db int) string {
	t.Helper()
	base := os.Getenv("PAIMENG_TEST_REDIS_URL")
	if base == "" {
		t.Fatal("PAIMENG_TEST_REDIS_URL not set: run make test")
	}
	opt, err := redis.ParseURL(base)
	if err != nil {
		t.Fatalf("PAIMENG_TEST_REDIS_URL: %v", err)
	}
	opt.DB = db
	c := redis.NewClient(opt)
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("flush test redis: %v", err)
	}
	return fmt.Sprintf("redis://%s/%d", opt.Addr, db)
}
