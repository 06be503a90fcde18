// The two checksums PostgreSQL has used for pg_control and WAL records.
#pragma once

#include <cstdint>
#include <span>

namespace pgrescue {

enum class CrcKind {
  kLegacyCrc32,  // 9.4 and older: reflected CRC-32 table driven MSB-first
  kCrc32c,       // 9.5 and newer: CRC-32C (Castagnoli), as iSCSI
};

// CRC-32C of `data` (init and final XOR 0xFFFFFFFF).
uint32_t Crc32c(std::span<const uint8_t> data);

// Continues a CRC-32C: `crc` is a finished value of the bytes before `data`.
uint32_t Crc32cExtend(uint32_t crc, std::span<const uint8_t> data);

// The implementations behind Crc32c, for tests and benchmarks: Boost.CRC is
// the reference; the portable one is table-driven (slicing by 8); the
// hardware one uses SSE 4.2 and may only run where it is available.
uint32_t Crc32cBoostExtend(uint32_t crc, std::span<const uint8_t> data);
uint32_t Crc32cPortableExtend(uint32_t crc, std::span<const uint8_t> data);
uint32_t Crc32cHardwareExtend(uint32_t crc, std::span<const uint8_t> data);
bool Crc32cHardwareAvailable();

// PostgreSQL's pre-9.5 "CRC-32": not a standard CRC (it shifts the register
// left while using the reflected table), so no parameterised CRC engine can
// produce it.
uint32_t LegacyCrc32(std::span<const uint8_t> data);

// Continues a legacy CRC-32: `crc` is a finished value of the bytes before.
uint32_t LegacyCrc32Extend(uint32_t crc, std::span<const uint8_t> data);

uint32_t ComputeCrc(CrcKind kind, std::span<const uint8_t> data);

}  // namespace pgrescue
