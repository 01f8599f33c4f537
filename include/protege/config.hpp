/// @file config.hpp
/// Build-wide configuration of protege: ABI namespace and export macros.
///
/// Every public symbol lives in `protege::v0` (an inline namespace), so that two ABI-incompatible
/// releases can coexist in one process and link errors name the ABI version. Use `protege::` in
/// code; the inline namespace is transparent.
#pragma once

/// Opens the public namespace with its inline ABI namespace.
#define PROTEGE_NAMESPACE_BEGIN \
  namespace protege {           \
  inline namespace v0 {
/// Closes what PROTEGE_NAMESPACE_BEGIN opened.
#define PROTEGE_NAMESPACE_END \
  }                           \
  }

#if defined(_WIN32)
#if defined(PROTEGE_BUILDING_CORE)
#define PROTEGE_API __declspec(dllexport)
#else
#define PROTEGE_API __declspec(dllimport)
#endif
#else
/// Marks a declaration as part of the shared library's exported interface (symbols are hidden by
/// default).
#define PROTEGE_API __attribute__((visibility("default")))
#endif
