#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "runtime/Tensor.h"

namespace qs {

// Reads a NumPy .npy file (format 1.0, 2.0 or 3.0), keeping its dtype: float32 '<f4', float16
// '<f2', int32 '<i4', int64 '<i8', uint8 '|u1' and bool '|b1' are read as they are. Other files
// are converted, and the conversion is named in `note` if given: big-endian and Fortran-order
// files to the same dtype in native C order; int8, int16 and uint16 to int32, uint32 to int64,
// uint64 to int64 (a value above its range is an error); float64 to float32 (one rounding, as
// numpy's astype(float32)). Throws qs::Error naming the file for anything else (object arrays,
// strings, complex numbers, a header that lies about the data's size, a shape too large to
// allocate), before allocating.
Tensor readNpy(const std::filesystem::path& path, std::string* note = nullptr);
Tensor parseNpy(const std::string& bytes, const std::string& source, std::string* note = nullptr);

// What a file holds, from its header alone (for checking a page without loading the data).
struct NpyHeaderInfo {
  Shape shape;
  DType dtype;  // as readNpy will give it
};
NpyHeaderInfo readNpyHeader(const std::filesystem::path& path);

// numpy's name for a dtype's layout: "<f4", "<i4", "<i8", "|b1", "<f2", "|u1".
const char* npyDescr(DType dtype);

// Writes the tensor's own dtype (npyDescr), C order, format 1.0 (2.0 if the header needs it).
// Atomic (temporary file and rename). Throws qs::Error naming the file.
void writeNpy(const std::filesystem::path& path, const Tensor& tensor);
std::string npyBytes(const Tensor& tensor);

// One int64 as a rank-0 `<i8` .npy file (what numpy.save writes for numpy.int64(value)).
std::string npyInt64Bytes(int64_t value);
// The value of a one-element .npy array of an integer dtype (either byte order, any width), read
// exactly rather than through float32. Throws qs::Error naming `source` for anything else.
int64_t parseNpyInt64(const std::string& bytes, const std::string& source);

}  // namespace qs
