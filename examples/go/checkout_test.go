// Checkout suite with known flakiness. Probabilities per run (see ../README.md):
// stable 0, random 0.30, timing 0.20, boundary 0.05, seed-dependent 0.25,
// concurrency 0.15 (not seed-reproducible), order-dependent 0 in declared order, broken 1.
package checkout

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

var cache = map[string][]int{}

func seed() uint64 {
	s, err := strconv.ParseUint(os.Getenv("GO_TEST_SEED"), 10, 64)
	if err != nil {
		return uint64(time.Now().UnixNano())
	}
	return s
}

func seededUniform(label string) float64 {
	sum := sha256.Sum256([]byte(strconv.FormatUint(seed(), 10) + ":" + label))
	return float64(binary.BigEndian.Uint64(sum[:8])) / float64(^uint64(0))
}

func TestAppliesDiscount(t *testing.T) {
	if 80*(1-0.25) != 60 {
		t.Fatal("discount miscalculated")
	}
}

func TestReservesStock(t *testing.T) {
	stock := 1
	stock--
	if seededUniform("stock race") < 0.30 {
		stock--
	}
	if stock != 0 {
		t.Fatalf("stock went negative (%d): two orders reserved the last item", stock)
	}
}

func TestSendsReceiptInTime(t *testing.T) {
	latency := 2 * time.Millisecond
	if seededUniform("mail latency") < 0.20 {
		latency = 60 * time.Millisecond
	}
	select {
	case <-time.After(latency):
	case <-time.After(30 * time.Millisecond):
		t.Fatalf("mail server answered after %v, limit 30ms", latency)
	}
}

func TestRoundsLastCent(t *testing.T) {
	if int(seededUniform("cents")*20) == 0 {
		t.Fatal("rounded the last cent to -1 (off by one at the boundary)")
	}
}

func TestWeeklyPromotion(t *testing.T) {
	if s := seed(); s%4 == 0 {
		t.Fatalf("promotion week computed as 0 for seed %d", s)
	}
}

func TestMergesConcurrentUpdates(t *testing.T) {
	var mu sync.Mutex
	cart := 0
	lost := rand.New(rand.NewSource(time.Now().UnixNano())).Float64() < 0.15
	var wg sync.WaitGroup
	for _, n := range []int{1, 2} {
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if lost {
				cart = n
			} else {
				cart += n
			}
		}(n)
	}
	wg.Wait()
	if cart != 3 {
		t.Fatalf("cart total %d, expected 3: a concurrent update was lost", cart)
	}
}

func TestWarmsPriceCache(t *testing.T) {
	cache["prices"] = []int{1, 2, 3}
}

func TestReadsCachedPrices(t *testing.T) {
	if _, ok := cache["prices"]; !ok {
		t.Fatal("price list not cached: this test relies on an earlier one")
	}
}

func TestChargesSavedCard(t *testing.T) {
	t.Fatal("card declined: the payment stub was removed")
}
