// http::Client's checks of in-memory TLS data and client certificate rotation (no network: the
// TLS handshakes themselves are covered against the testenv in
// tests/integration/kube_tls_test.cpp).
#include <gtest/gtest.h>

#include "flywheel/http/client.h"

namespace flywheel::http {
namespace {

// A self-signed P-256 certificate with its key, and another key (made with openssl req/ecparam).
constexpr const char* kCert = R"pem(-----BEGIN CERTIFICATE-----
MIIBiDCCAS2gAwIBAgIUX5LYiW9CCkJhak6ClcMd3nAn9dwwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNZmx5d2hlZWwtdGVzdDAgFw0yNjExMjcwMzQxNTBaGA8yMTI2
MTEwMzAzNDE1MFowGDEWMBQGA1UEAwwNZmx5d2hlZWwtdGVzdDBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABEqQJr9kv2Bl68a9LzCIEGazmqSZm+uF1cnfCVgASFBP
TCymoKYthDwiHD+lrN4VJMvSiq1BZ9IOV93H8Pfp7gmjUzBRMB0GA1UdDgQWBBQN
Oll0/DYraMO85t20mFyJ7ljCbzAfBgNVHSMEGDAWgBQNOll0/DYraMO85t20mFyJ
7ljCbzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQDByHfQA9We
RqOtyEP3foenQl3LvFGn4Wgzw/+JQGjqAgIhAJsAZ9CHqcDRCgtdOLvqPKOKLq/Y
CAfub15pkG7aYWNS
-----END CERTIFICATE-----
)pem";
constexpr const char* kKey = R"pem(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgwq4FzzH1V90+mPzN
PrpoCqQjs+AcSI+tETFd/rT8RQ+hRANCAARKkCa/ZL9gZevGvS8wiBBms5qkmZvr
hdXJ3wlYAEhQT0wspqCmLYQ8Ihw/pazeFSTL0oqtQWfSDlfdx/D36e4J
-----END PRIVATE KEY-----
)pem";
constexpr const char* kOtherKey = R"pem(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgLoM4LbG1PEQatE2m
Pz9aNaFHSZ7JWkFzeKmc2rLNkx6hRANCAARkUDzxdzKyT2+UKKESaoXmweYMpJ6x
FQmtTt47q8cnVB4Fg13VqZc0/TX552LWOFp+p3Mcc6oEmTXqDQMMQy8V
-----END PRIVATE KEY-----
)pem";

ClientOptions WithClientCertificate(const std::string& cert, const std::string& key) {
  ClientOptions options;
  options.base_url = "https://127.0.0.1:6443";
  options.tls.client_cert_pem = cert;
  options.tls.client_key_pem = key;
  return options;
}

TEST(TlsOptionsTest, NewClientChecksTheClientCertificateAndKey) {
  EXPECT_TRUE(NewClient(WithClientCertificate(kCert, kKey)).ok());
  auto mismatched = NewClient(WithClientCertificate(kCert, kOtherKey));
  EXPECT_EQ(mismatched.status().code(), Code::kInvalidArgument);
  EXPECT_NE(mismatched.status().message().find("unusable TLS certificate or key"),
            std::string::npos)
      << mismatched.status().ToString();
  EXPECT_EQ(NewClient(WithClientCertificate("not pem", kKey)).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(NewClient(WithClientCertificate(kCert, "")).status().code(), Code::kInvalidArgument);
  ClientOptions bad_ca = WithClientCertificate("", "");
  bad_ca.tls.ca_pem = "not pem";
  EXPECT_EQ(NewClient(bad_ca).status().code(), Code::kInvalidArgument);
}

TEST(TlsOptionsTest, ServerNameIsAcceptedAsNameOrAddress) {
  ClientOptions options = WithClientCertificate("", "");
  options.tls.server_name = "kubernetes.default.svc";
  EXPECT_TRUE(NewClient(options).ok());
  options.tls.server_name = "10.96.0.1";
  EXPECT_TRUE(NewClient(options).ok());
}

TEST(TlsOptionsTest, SetClientCertificateKeepsTheOldPairWhenTheNewOneIsUnusable) {
  auto client = NewClient(WithClientCertificate("", ""));
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE((*client)->SetClientCertificate(kCert, kKey).ok());
  EXPECT_TRUE((*client)->SetClientCertificate(kCert, kKey).ok());  // the same pair: a no-op
  Status mismatched = (*client)->SetClientCertificate(kCert, kOtherKey);
  EXPECT_EQ(mismatched.code(), Code::kInvalidArgument) << mismatched.ToString();
  EXPECT_EQ((*client)->SetClientCertificate("garbage", "garbage").code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace flywheel::http
