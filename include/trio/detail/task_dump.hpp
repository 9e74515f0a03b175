#pragma once
/// \file
/// The task dump (lowlevel::format_task_tree, run_options::task_dump_signal, deadlock_error): every
/// task of a run with its state, what it waits on, its cancel status and its await chain. Nothing here
/// runs unless a dump is asked for; what a wait costs is one pointer to a static wait_ops (park()).

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <coroutine>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "trio/detail/runner.hpp"
#include "trio/task.hpp"

namespace trio::detail {

/// The functions of one loaded ELF file, sorted by address (from .symtab, else .dynsym). The file
/// stays mapped while the process lives: the names point into it.
struct elf_functions {
  struct entry {
    std::uintptr_t start, size;
    const char* name;
  };
  std::vector<entry> sorted;

  explicit elf_functions(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    void* map = MAP_FAILED;
    if (::fstat(fd, &st) == 0 && st.st_size > static_cast<off_t>(sizeof(ElfW(Ehdr))))
      map = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) return;
    const auto* base = static_cast<const unsigned char*>(map);
    const auto size = static_cast<std::size_t>(st.st_size);
    const auto* eh = reinterpret_cast<const ElfW(Ehdr)*>(base);
    if (std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shoff == 0 ||
        eh->e_shoff + std::size_t{eh->e_shnum} * sizeof(ElfW(Shdr)) > size) {
      ::munmap(map, size);
      return;
    }
    const auto* sh = reinterpret_cast<const ElfW(Shdr)*>(base + eh->e_shoff);
    for (unsigned kind : {unsigned{SHT_SYMTAB}, unsigned{SHT_DYNSYM}}) {
      for (unsigned k = 0; k < eh->e_shnum; ++k) {
        if (sh[k].sh_type != kind || sh[k].sh_link >= eh->e_shnum) continue;
        const ElfW(Shdr)& strs = sh[sh[k].sh_link];
        if (sh[k].sh_offset + sh[k].sh_size > size || strs.sh_offset + strs.sh_size > size || strs.sh_size == 0)
          continue;
        const auto* syms = reinterpret_cast<const ElfW(Sym)*>(base + sh[k].sh_offset);
        const std::size_t n = sh[k].sh_size / sizeof(ElfW(Sym));
        const char* names = reinterpret_cast<const char*>(base + strs.sh_offset);
        if (names[strs.sh_size - 1] != '\0') continue;  // names must end inside the table
        for (std::size_t i = 0; i < n; ++i)
          if (ELF64_ST_TYPE(syms[i].st_info) == STT_FUNC && syms[i].st_value != 0 && syms[i].st_name < strs.sh_size)
            sorted.push_back({syms[i].st_value, syms[i].st_size, names + syms[i].st_name});
      }
      if (!sorted.empty()) break;
    }
    std::qsort(sorted.data(), sorted.size(), sizeof(entry), [](const void* a, const void* b) {
      const auto x = static_cast<const entry*>(a)->start, y = static_cast<const entry*>(b)->start;
      return x < y ? -1 : x > y ? 1 : 0;
    });
    if (sorted.empty()) ::munmap(map, size);
  }

  const char* find(std::uintptr_t offset) const noexcept {
    std::size_t lo = 0, hi = sorted.size();  // the first entry starting after offset
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (sorted[mid].start <= offset)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo == 0) return nullptr;
    const entry& e = sorted[lo - 1];
    return offset < e.start + (e.size > 0 ? e.size : 1) ? e.name : nullptr;
  }
};

/// The mangled name of the function containing `pc`, or "". Looks in the dynamic symbols (dladdr), then
/// in the ELF symbol table of the file the code was loaded from: local functions, such as those in an
/// anonymous namespace, are only there (a stripped binary has none). Files are read once per process.
inline std::string mangled_symbol(const void* pc) {
  Dl_info info{};
  if (::dladdr(pc, &info) != 0 && info.dli_sname) return info.dli_sname;
  struct found_object {
    std::uintptr_t addr;
    std::uintptr_t bias;
    std::string path;
    bool found;
  } obj{reinterpret_cast<std::uintptr_t>(pc), 0, {}, false};
  ::dl_iterate_phdr(
      [](dl_phdr_info* i, std::size_t, void* p) -> int {
        auto* o = static_cast<found_object*>(p);
        for (int k = 0; k < i->dlpi_phnum; ++k) {
          const auto& ph = i->dlpi_phdr[k];
          if (ph.p_type != PT_LOAD) continue;
          const std::uintptr_t lo = i->dlpi_addr + ph.p_vaddr;
          if (o->addr >= lo && o->addr < lo + ph.p_memsz) {
            o->bias = i->dlpi_addr;
            o->path = (i->dlpi_name && *i->dlpi_name) ? i->dlpi_name : "/proc/self/exe";
            o->found = true;
            return 1;
          }
        }
        return 0;
      },
      &obj);
  if (!obj.found) return {};
  static std::mutex m;
  static std::vector<std::pair<std::string, std::unique_ptr<elf_functions>>> files;  // (kept: names point into them)
  std::lock_guard lk(m);
  elf_functions* f = nullptr;
  for (auto& [path, fns] : files)
    if (path == obj.path) f = fns.get();
  if (!f) {
    files.emplace_back(obj.path, std::make_unique<elf_functions>(obj.path));
    f = files.back().second.get();
  }
  const char* name = f->find(obj.addr - obj.bias);
  return name ? name : std::string();
}

/// The demangled name of the function containing `pc`, or "" if unknown.
inline std::string symbol_name(const void* pc) {
  const std::string mangled = mangled_symbol(pc);
  if (mangled.empty()) return {};
  int status = 0;
  char* d = abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status);
  std::string out = status == 0 && d ? d : mangled;
  std::free(d);
  // A coroutine's resume function is its body: "f() [clone .actor]" (g++), "f() (.resume)" (clang).
  for (std::string_view suffix : {" [clone .actor]", " [clone .resume]", " (.resume)", ".actor", ".resume"})
    if (out.size() > suffix.size() && out.compare(out.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.resize(out.size() - suffix.size());
      break;
    }
  return out;
}

/// The function at `resume_fn` (a coroutine frame's resume function), for people: "serve(int)". g++ names a coroutine's
/// body after its frame type, "f(f(int)::_Z1fi.Frame*)": that reads back as "f(int)". The library's own frames lose
/// their template and parameter lists; "(anonymous namespace)::" goes.
inline std::string code_words(const void* resume_fn) {
  std::string name = symbol_name(resume_fn);
  if (name.empty()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%p", resume_fn);
    return buf;
  }
  if (name.size() > 8 && name.compare(name.size() - 8, 8, ".Frame*)") == 0) {
    for (std::size_t k = name.find('(', 1); k != std::string::npos; k = name.find('(', k + 1)) {
      if (name.compare(k + 1, k, name, 0, k) != 0) continue;  // "f(" followed by "f..."
      const std::size_t frame = name.rfind("::_Z");
      if (frame != std::string::npos && frame > k) name = name.substr(k + 1, frame - k - 1);
      break;
    }
  }
  for (std::size_t at; (at = name.find("(anonymous namespace)::")) != std::string::npos;) name.erase(at, 23);
  if (name.rfind("trio::", 0) == 0) {
    std::size_t end = 0;
    while (end < name.size() && name[end] != '<' && name[end] != '(') ++end;
    name.resize(end);
  }
  return name;
}
inline std::string frame_function(std::coroutine_handle<> h) {
  return code_words(*static_cast<void* const*>(h.address()));
}

/// The task's coroutine frames from its function down to the innermost co_await, by name, for a parked
/// task: it parked in a trio::task's frame, and each frame's promise says whether the coroutine awaiting
/// it is a trio::task's too (the walk stops at a coroutine of another kind). The library's own frames
/// (namespace trio::detail) are left out.
inline std::vector<std::string> await_chain(const task_record& t) {
  std::vector<std::string> inner_first;
  if (!t.parked || !t.parked_in_task) return inner_first;
  std::coroutine_handle<> h = t.resume_point;
  for (int depth = 0; depth < 64; ++depth) {
    std::string name = frame_function(h);
    if (name.rfind("trio::detail::", 0) != 0) inner_first.push_back(std::move(name));
    if (h == t.frame) break;
    const std::uintptr_t next =
        std::coroutine_handle<task_promise_base>::from_address(h.address()).promise().continuation;
    if ((next & 1) == 0) break;  // awaited by a coroutine of another kind (or by nobody)
    h = std::coroutine_handle<>::from_address(reinterpret_cast<void*>(next & ~std::uintptr_t{1}));
  }
  return {inner_first.rbegin(), inner_first.rend()};
}

inline const char* cancel_source_words(cancel_source s) noexcept {
  switch (s) {
    case cancel_source::deadline:
      return "its deadline passed";
    case cancel_source::explicit_call:
      return "cancel() was called";
    case cancel_source::nursery:
      return "a sibling task failed";
    case cancel_source::keyboard_interrupt:
      return "Ctrl-C";
    case cancel_source::shutdown:
      return "the run is shutting down";
    case cancel_source::unknown:
      break;
  }
  return "cancelled";
}

/// "cancel: deadline in 3.000000 s, cancelled (reason), shielded".
inline void append_cancel_status(std::string& out, const runner& r, const task_record& t) {
  time_point deadline = no_deadline;
  bool shielded = false;
  const scope_state* cancelled_by = nullptr;
  for (const scope_state* s = t.status; s; s = s->parent) {
    if (s->deadline < deadline) deadline = s->deadline;
    if (s->cancel_called) cancelled_by = s;  // the outermost one that reaches the task
    if (s->shield) {
      shielded = true;
      break;
    }
  }
  out += "cancel: ";
  if (deadline == no_deadline) {
    out += "no deadline";
  } else if (deadline >= r.now()) {
    out += "deadline in ";
    append_seconds(out, deadline - r.now());
  } else {
    out += "deadline passed ";
    append_seconds(out, r.now() - deadline);
    out += " ago";
  }
  if (t.status && t.status->effectively_cancelled && cancelled_by) {
    out += ", cancelled (";
    out += cancelled_by->reason.empty() ? cancel_source_words(cancelled_by->source) : cancelled_by->reason;
    out += ")";
  }
  if (shielded) out += ", shielded";
}

/// The whole tree of tasks and nurseries of `r`, one task per line with its details indented under it.
inline std::string format_tree(const runner& r) {
  std::string out;
  struct walker {
    std::string& out;
    const runner& r;
    const task_record* current;
    void line(int depth) { out.append(static_cast<std::size_t>(depth) * 2, ' '); }
    void task(const task_record& t, int depth) {
      line(depth);
      // Named after the function its outermost coroutine runs, when the symbols say; else its type.
      std::string name = t.frame && !t.frame.done() ? frame_function(t.frame) : std::string();
      if (name.empty() || name[0] == '0' || name.rfind("trio::detail::", 0) == 0) name = t.name();
      out += "task #" + std::to_string(t.id) + " " + name;
      if (&t == current)
        out += " (running)";
      else if (!t.parked)
        out += " (runnable)";
      out += '\n';
      if (t.parked && t.wait) {
        line(depth + 2);
        out += "waiting: ";
        if (t.wait->describe)
          t.wait->describe(t.abort_ctx, out);
        else
          out += "(a wait the library cannot describe)";
        out += '\n';
      }
      if (t.status) {
        line(depth + 2);
        append_cancel_status(out, r, t);
        out += '\n';
      }
      if (&t != current) {
        const std::vector<std::string> chain = await_chain(t);
        if (!chain.empty()) {
          line(depth + 2);
          out += "at: ";
          for (std::size_t i = 0; i < chain.size(); ++i) {
            if (i) out += " > ";
            out += chain[i];
          }
          out += '\n';
        }
      }
      for (const nursery_core* n : open_nurseries(t)) {
        line(depth + 1);
        out += "nursery (" + std::to_string(n->child_count) + " children";
        if (n->scope && n->scope->cancel_called) out += ", cancelled";
        out += ")\n";
        n->children.for_each([&](const task_record& c) { task(c, depth + 2); });
      }
    }
  } w{out, r, r.current()};
  if (const task_record* root = r.init_task()) w.task(*root, 0);
  return out;
}

}  // namespace trio::detail
