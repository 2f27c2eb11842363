#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "runtime/Tensor.h"

namespace qs {

// Reads a NumPy .npy file (format 1.0, 2.0 or 3.0) as a float32 tensor. float32 is read as is;
// other numeric dtypes (float16/64, signed and unsigned integers, bool) of either byte order,
// and Fortran order, are converted, and the conversion is named in `note` if given. Throws
// qs::Error naming the file for anything else (object arrays, strings, complex numbers, a header
// that lies about the data's size, a shape too large to allocate), before allocating.
Tensor readNpy(const std::filesystem::path& path, std::string* note = nullptr);
Tensor parseNpy(const std::string& bytes, const std::string& source, std::string* note = nullptr);
// Reads only the header: the shape (for checking a page without loading the data).
Shape readNpyShape(const std::filesystem::path& path);

// Writes `<f4`, C order, format 1.0 (2.0 if the header needs it). Atomic (temporary file and
// rename). Throws qs::Error naming the file.
void writeNpy(const std::filesystem::path& path, const Tensor& tensor);
std::string npyBytes(const Tensor& tensor);

// One int64 as a rank-0 `<i8` .npy file (what numpy.save writes for numpy.int64(value)).
std::string npyInt64Bytes(int64_t value);
// The value of a one-element .npy array of an integer dtype (either byte order, any width), read
// exactly rather than through float32. Throws qs::Error naming `source` for anything else.
int64_t parseNpyInt64(const std::string& bytes, const std::string& source);

}  // namespace qs
