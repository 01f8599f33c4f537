// The typed dispatcher handle of a registered protege operator, looked up once per operator: the
// one way the torch layer calls an op through the dispatcher (public C++ API, autograd nodes
// calling their inner ops).
#pragma once

#include <algorithm>  // for std::copy_n
#include <cstddef>    // for std::size_t

#include <ATen/core/dispatch/Dispatcher.h>

namespace protege::torch_detail {

/// A registered operator's name as a template argument ("protege::distill_loss").
template <std::size_t N>
struct OpName {
  char name[N];
  constexpr OpName(const char (&s)[N]) { std::copy_n(s, N, name); }  // NOLINT(google-explicit-constructor)
};

/// The typed dispatcher handle of the operator `Name` (overload ""), looked up once.
/// @throws c10::Error when no such schema is registered.
template <OpName Name, class Sig>
const c10::TypedOperatorHandle<Sig>& typed_op() {
  static const auto op = c10::Dispatcher::singleton().findSchemaOrThrow(Name.name, "").template typed<Sig>();
  return op;
}

}  // namespace protege::torch_detail
