// The event queue's ordering and the link's bandwidth sharing (re-rating when the other direction starts or stops).
#include <catch2/catch_test_macros.hpp>

#include "simulator/event_queue.h"
#include "simulator/link.h"

using namespace zo2::sim;

TEST_CASE("events run in time order, FIFO among equal times", "[event-queue]") {
  EventQueue q;
  q.schedule(50, 0, 1);
  q.schedule(10, 0, 2);
  q.schedule(50, 0, 3);
  q.schedule(10, 0, 4);
  q.schedule(0, 0, 5);
  std::vector<int> order;
  while (!q.empty()) order.push_back(q.pop().target);
  CHECK(order == std::vector<int>{5, 2, 4, 1, 3});
  CHECK(to_ns(1.5e-9) == 2);
  CHECK(to_ns(0.0) == 0);
}

TEST_CASE("a copy in flight is re-rated when the other direction starts and stops", "[link]") {
  Link link(0.8);
  // 100 MB up at 50 GB/s alone: would end at 2 ms.
  link.start(kH2D, 0, 100e6, 50e9, 0);
  CHECK(link.finish_time(kH2D) == 2'000'000);
  // At 1 ms, 100 MB down starts: both run at 40 GB/s. Up has 50 MB left: ends at 1 + 1.25 = 2.25 ms.
  link.start(kD2H, 1, 100e6, 50e9, 1'000'000);
  CHECK(link.finish_time(kH2D) == 2'250'000);
  CHECK(link.finish_time(kD2H) == 1'000'000 + 2'500'000);
  link.finish(kH2D, 2'250'000);
  // Down moved 50 MB at 40 GB/s; the other 50 MB go alone at 50 GB/s: 1 ms more.
  CHECK(link.finish_time(kD2H) == 3'250'000);
  CHECK(link.both_busy_ns() == 1'250'000);
  const uint32_t gen = link.generation(kD2H);
  link.start(kH2D, 2, 10e6, 50e9, 3'000'000);
  CHECK(link.generation(kD2H) != gen);  // the earlier finish event is now stale
}
