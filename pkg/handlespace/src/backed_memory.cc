#include "backed_memory.h"

#include <sys/mman.h>

#include <unistd.h>

#include <cerrno>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "vnfpool/handlespace/handlespace.h"

namespace vnfpool::handlespace {
namespace {
std::atomic<bool> g_huge_pages{true};
std::atomic<std::size_t> g_mapped{0};

// The mapped blocks alive now (start -> length), for residentMappedBytes(). Blocks are 2 MiB and more, so
// there are few of them and the lock is taken rarely.
std::mutex g_blocks_mutex;
std::map<std::uintptr_t, std::size_t>& blocks() {
  static auto* live = new std::map<std::uintptr_t, std::size_t>();  // never destroyed: used at exit
  return *live;
}
}  // namespace

void setHugePages(bool on) noexcept { g_huge_pages.store(on, std::memory_order_relaxed); }
bool hugePages() noexcept { return g_huge_pages.load(std::memory_order_relaxed); }
std::size_t mappedBytes() noexcept { return g_mapped.load(std::memory_order_relaxed); }

std::size_t residentMappedBytes() {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> pages;
  std::size_t resident = 0;
  const std::lock_guard<std::mutex> lock(g_blocks_mutex);
  for (const auto& [start, length] : blocks()) {
    pages.assign((length + page - 1) / page, 0);
    if (::mincore(reinterpret_cast<void*>(start), length, pages.data()) != 0) {
      resident += length;  // cannot tell: count all of it
      continue;
    }
    for (unsigned char p : pages) resident += (p & 1) != 0 ? page : 0;
  }
  return resident;
}

namespace detail {
namespace {

std::size_t roundUp(std::size_t bytes, std::size_t to) { return (bytes + to - 1) / to * to; }

}  // namespace

void* allocateBacked(std::size_t bytes) {
  if (bytes < kHugePage) return ::operator new(bytes, std::align_val_t{kBackedAlign});
  // Map one huge page more than needed and unmap the ends, so the block starts on a 2 MiB boundary (the
  // kernel backs an advised range with huge pages only where whole aligned 2 MiB pieces fit).
  const std::size_t length = roundUp(bytes, kHugePage);
  void* raw = ::mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto begin = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = roundUp(begin, kHugePage);
  if (aligned > begin) ::munmap(raw, aligned - begin);
  const std::uintptr_t end = begin + length + kHugePage;
  if (end > aligned + length) ::munmap(reinterpret_cast<void*>(aligned + length), end - (aligned + length));
  void* block = reinterpret_cast<void*>(aligned);
  if (hugePages()) ::madvise(block, length, MADV_HUGEPAGE);  // advice: where refused, 4 KiB pages serve
  g_mapped.fetch_add(length, std::memory_order_relaxed);
  try {
    const std::lock_guard<std::mutex> lock(g_blocks_mutex);
    blocks().emplace(aligned, length);
  } catch (...) {
    g_mapped.fetch_sub(length, std::memory_order_relaxed);
    ::munmap(block, length);
    throw;
  }
  return block;
}

void prefault(void* p, std::size_t bytes) noexcept {
#ifdef MADV_POPULATE_WRITE
  static std::atomic<bool> refused{false};
  if (bytes < (std::size_t{16} << 10) || refused.load(std::memory_order_relaxed)) return;
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const std::uintptr_t begin = roundUp(reinterpret_cast<std::uintptr_t>(p), page);
  const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(p) + bytes) / page * page;
  if (end <= begin) return;
  // Advice only: if the kernel does not know it (EINVAL), the writes that follow fault page by page.
  if (::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE) != 0 && errno == EINVAL)
    refused.store(true, std::memory_order_relaxed);
#else
  (void)p;
  (void)bytes;
#endif
}

void releaseBacked(void* block, std::size_t bytes) noexcept {
  if (bytes < kHugePage) {
    ::operator delete(block, std::align_val_t{kBackedAlign});
    return;
  }
  const std::size_t length = roundUp(bytes, kHugePage);
  {
    const std::lock_guard<std::mutex> lock(g_blocks_mutex);
    blocks().erase(reinterpret_cast<std::uintptr_t>(block));
  }
  ::munmap(block, length);
  g_mapped.fetch_sub(length, std::memory_order_relaxed);
}

}  // namespace detail
}  // namespace vnfpool::handlespace
