#include "flywheel/kube/token_source.h"

#include <spdlog/spdlog.h>

#include "config_util.h"
#include "flywheel/kube/exec_credential.h"

namespace flywheel::kube {

FileTokenSource::FileTokenSource(std::string path, std::string initial_token, Clock& clock,
                                 Clock::Duration period)
    : path_(std::move(path)), clock_(clock), period_(period), token_(std::move(initial_token)) {
  if (!token_.empty()) {
    fresh_ = true;
    read_at_ = clock_.Now();
  }
}

Result<std::string> FileTokenSource::Token() {
  std::lock_guard lock(mu_);
  const Clock::TimePoint now = clock_.Now();
  if (fresh_ && now - read_at_ < period_) return token_;
  Result<std::string> text = internal::ReadFileText(path_);
  Status problem;
  if (!text.ok()) {
    problem = text.status();
  } else if (std::string token = internal::TrimSpace(*text); token.empty()) {
    problem = Status(Code::kUnauthenticated, "token file " + path_ + " is empty");
  } else {
    token_ = std::move(token);
    fresh_ = true;
    read_at_ = now;
    failing_ = false;
    return token_;
  }
  if (token_.empty()) return Status(Code::kUnauthenticated, problem.message());
  if (!failing_) {
    spdlog::warn("cannot rotate the bearer token, keeping the last one: {}", problem.message());
    failing_ = true;
  }
  return token_;
}

void FileTokenSource::Invalidate() {
  std::lock_guard lock(mu_);
  fresh_ = false;
}

std::shared_ptr<TokenSource> NewTokenSource(const RestConfig& config, Clock& clock) {
  if (config.exec) return std::make_shared<ExecCredentialProvider>(config, clock);
  if (!config.token_file.empty()) {
    return std::make_shared<FileTokenSource>(config.token_file, config.bearer_token, clock);
  }
  if (!config.bearer_token.empty()) return std::make_shared<StaticTokenSource>(config.bearer_token);
  return nullptr;
}

}  // namespace flywheel::kube
