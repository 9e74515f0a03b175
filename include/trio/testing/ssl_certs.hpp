#pragma once
/// \file
/// trio::testing::make_test_certificates: now in trio/ssl/testing/test_certificates.hpp (the trio::ssl
/// component, OpenSSL); this path keeps working.

#include "trio/ssl/testing/test_certificates.hpp"
