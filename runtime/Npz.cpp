#include "runtime/Npz.h"

#include <zip.h>

#include <memory>
#include <set>

#include "runtime/Error.h"
#include "runtime/FileIo.h"
#include "runtime/Tensor.h"

namespace qs {

namespace {

constexpr std::string_view kSuffix = ".npy";

std::string archiveErrorText(zip_t* za) {
  return zip_error_strerror(zip_get_error(za));
}

struct ArchiveCloser {
  void operator()(zip_t* za) const { zip_discard(za); }
};
using Archive = std::unique_ptr<zip_t, ArchiveCloser>;

struct FileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

struct SourceFreer {
  void operator()(zip_source_t* s) const { zip_source_free(s); }
};
using Source = std::unique_ptr<zip_source_t, SourceFreer>;

// Opens an archive over bytes that outlive it.
Archive openArchive(const std::string& bytes, const std::string& source) {
  // libzip takes no bytes at all for an archive without members; numpy does not either.
  if (bytes.empty()) throw Error(source + ": not a valid .npz (zip) archive: the file is empty");
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (!src) {
    std::string text = zip_error_strerror(&error);
    zip_error_fini(&error);
    throw Error(source + ": cannot read the archive: " + text);
  }
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (!za) {
    zip_source_free(src);  // not taken over by a failed open
    std::string text = zip_error_code_zip(&error) == ZIP_ER_EXISTS
                           ? std::string("two members have the same name")
                           : zip_error_strerror(&error);
    zip_error_fini(&error);
    throw Error(source + ": not a valid .npz (zip) archive: " + text);
  }
  zip_error_fini(&error);
  return Archive(za);
}

bool endsWithSuffix(const std::string& name) {
  return name.size() > kSuffix.size() &&
         name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

// Quant Space's own members (Npz.h): written and read under their whole name.
bool isOwnMember(const std::string& name) {
  return name.rfind(kNpzOwnPrefix, 0) == 0 && !endsWithSuffix(name);
}

// The member's key after checking what the archive says of it, before anything is inflated.
std::string checkedKey(const zip_stat_t& st, const std::string& source, uint64_t& total,
                       const NpzLimits& limits) {
  const std::string name = (st.valid & ZIP_STAT_NAME) ? st.name : "";
  const std::string where = source + ": member '" + name + "'";
  const bool own = isOwnMember(name);
  if (!own && !endsWithSuffix(name))
    throw Error(where + " is not an array: .npz members are named <key>.npy");
  if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
    throw Error(where + " is encrypted, which .npz files never are");
  if ((st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method != ZIP_CM_STORE &&
      st.comp_method != ZIP_CM_DEFLATE)
    throw Error(where + " uses compression method " + std::to_string(st.comp_method) +
                "; only stored and deflated members are read");
  if (!(st.valid & ZIP_STAT_SIZE)) throw Error(where + " has no size");
  if (st.size > limits.maxMemberBytes)
    throw Error(where + " would inflate to " + formatBytes(st.size) + ", more than the " +
                formatBytes(limits.maxMemberBytes) + " a member may hold");
  total += st.size;
  if (total > limits.maxTotalBytes)
    throw Error(source + ": the members would inflate to more than " +
                formatBytes(limits.maxTotalBytes) + " together");
  return own ? name : name.substr(0, name.size() - kSuffix.size());
}

std::string readMember(zip_t* za, zip_uint64_t index, uint64_t size, const std::string& where) {
  std::unique_ptr<zip_file_t, FileCloser> file(zip_fopen_index(za, index, 0));
  if (!file) throw Error(where + ": cannot open: " + archiveErrorText(za));
  std::string bytes(size, '\0');
  uint64_t done = 0;
  while (done < size) {
    const zip_int64_t n = zip_fread(file.get(), bytes.data() + done, size - done);
    if (n < 0) throw Error(where + ": cannot read: " + zip_file_strerror(file.get()));
    if (n == 0)
      throw Error(where + ": ends after " + std::to_string(done) + " of its " +
                  std::to_string(size) + " bytes");
    done += static_cast<uint64_t>(n);
  }
  // Reading to the end is what makes libzip compare the CRC.
  char extra;
  const zip_int64_t tail = zip_fread(file.get(), &extra, 1);
  if (tail < 0) throw Error(where + ": cannot read: " + zip_file_strerror(file.get()));
  if (tail > 0)
    throw Error(where + " holds more than the " + std::to_string(size) + " bytes its header gives");
  return bytes;
}

}  // namespace

NpzLimits NpzLimits::defaults() {
  const uint64_t member = maxTensorBytes() + (1u << 16);
  return NpzLimits{member, 2 * member};
}

std::vector<NpzMember> parseNpz(const std::string& archive, const std::string& source,
                                const NpzLimits& limits, bool ownMembers) {
  Archive za = openArchive(archive, source);
  const zip_int64_t count = zip_get_num_entries(za.get(), 0);
  if (count < 0) throw Error(source + ": cannot list the archive: " + archiveErrorText(za.get()));
  if (count > limits.maxMembers)
    throw Error(source + ": holds " + std::to_string(count) + " members, more than the " +
                std::to_string(limits.maxMembers) + " a state file may have");
  std::vector<NpzMember> members;
  std::set<std::string> seen;
  uint64_t total = 0;
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0)
      throw Error(source + ": cannot read member " + std::to_string(i) + ": " +
                  archiveErrorText(za.get()));
    std::string key = checkedKey(st, source, total, limits);
    const bool own = isOwnMember(key);
    const std::string name = own ? key : key + std::string(kSuffix);
    if (!seen.insert(key).second) throw Error(source + ": two members are named '" + name + "'");
    if (own && !ownMembers) continue;
    const std::string where = source + ": member '" + name + "'";
    members.push_back(
        {std::move(key), readMember(za.get(), static_cast<zip_uint64_t>(i), st.size, where)});
  }
  return members;
}

std::vector<NpzMember> readNpz(const std::filesystem::path& path, const NpzLimits& limits,
                               bool ownMembers) {
  // The archive's own size is bounded by what its members may inflate to (deflate never grows a
  // member by more than a few bytes per 16 KiB block), plus the zip headers.
  const uint64_t maxArchive = limits.maxTotalBytes + limits.maxTotalBytes / 64 +
                              static_cast<uint64_t>(limits.maxMembers) * 512 + (1u << 20);
  return parseNpz(readFile(path, maxArchive), path.string(), limits, ownMembers);
}

std::string npzBytes(const std::vector<NpzMember>& members, bool compress) {
  std::set<std::string> seen;
  for (const NpzMember& m : members) {
    if (m.key.empty()) throw Error("an .npz member needs a name");
    if (!seen.insert(m.key).second) throw Error("two .npz members are named '" + m.key + "'");
  }
  // libzip writes nothing at all for an archive without members; numpy.savez() writes just the
  // end-of-central-directory record, and so do we.
  if (members.empty()) return std::string("PK\x05\x06", 4) + std::string(18, '\0');
  zip_error_t error;
  zip_error_init(&error);
  Source buffer(zip_source_buffer_create(nullptr, 0, 0, &error));
  if (!buffer)
    throw Error("cannot make an .npz archive: " + std::string(zip_error_strerror(&error)));
  zip_error_fini(&error);
  // The archive takes a reference; keep ours so that the bytes can be read after zip_close.
  zip_source_keep(buffer.get());
  zip_t* raw = zip_open_from_source(buffer.get(), ZIP_TRUNCATE, &error);
  if (!raw) {
    zip_source_free(buffer.get());  // the reference the failed open did not take
    throw Error("cannot make an .npz archive: " + std::string(zip_error_strerror(&error)));
  }
  Archive za(raw);
  for (const NpzMember& m : members) {
    zip_source_t* data = zip_source_buffer(za.get(), m.bytes.data(), m.bytes.size(), 0);
    const std::string name = isOwnMember(m.key) ? m.key : m.key + std::string(kSuffix);
    const zip_int64_t index =
        data ? zip_file_add(za.get(), name.c_str(), data, ZIP_FL_ENC_UTF_8) : -1;
    if (index < 0) {
      if (data) zip_source_free(data);
      throw Error("cannot add '" + name + "' to an .npz archive: " + archiveErrorText(za.get()));
    }
    const auto at = static_cast<zip_uint64_t>(index);
    // 1980-01-01 00:00 (DOS date 0x21): the same bytes whenever and wherever they are written.
    if (zip_set_file_compression(za.get(), at, compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) != 0 ||
        zip_file_set_dostime(za.get(), at, 0, 0x21, 0) != 0)
      throw Error("cannot add '" + name + "' to an .npz archive: " + archiveErrorText(za.get()));
  }
  if (zip_close(za.get()) != 0)
    throw Error("cannot make an .npz archive: " + archiveErrorText(za.get()));
  za.release();  // closed: nothing left to discard

  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_source_stat(buffer.get(), &st) != 0 || zip_source_open(buffer.get()) != 0)
    throw Error("cannot read back an .npz archive just made");
  std::string bytes(st.size, '\0');
  const zip_int64_t n = zip_source_read(buffer.get(), bytes.data(), st.size);
  zip_source_close(buffer.get());
  if (n < 0 || static_cast<uint64_t>(n) != st.size)
    throw Error("cannot read back an .npz archive just made");
  return bytes;
}

void writeNpz(const std::filesystem::path& path, const std::vector<NpzMember>& members,
              bool compress) {
  std::string bytes;
  try {
    bytes = npzBytes(members, compress);
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
  writeFileAtomically(path, bytes);
}

}  // namespace qs
