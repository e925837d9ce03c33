#include "flywheel/git/url.h"

#include <gtest/gtest.h>

namespace flywheel::git {
namespace {

TEST(RepoKeyTest, EveryFormOfOneRepositoryGivesTheSameKey) {
  for (const char* url : {
           "https://github.com/Acme/Deploy.git",
           "http://github.com/Acme/Deploy",
           "ssh://git@github.com/Acme/Deploy.git",
           "ssh://git@github.com:22/Acme/Deploy",
           "git@github.com:Acme/Deploy.git",
           "git://github.com/Acme/Deploy.git",
           "https://user:pw@github.com/Acme/Deploy/",
           "https://GitHub.COM/Acme/Deploy",
           "https://github.com:443/Acme/Deploy",
           "https://github.com/Acme/Deploy.git/",
           "https://github.com//Acme/Deploy",
           "https://github.com/Acme/Deploy?x=1#frag",
           "git+ssh://git@github.com/Acme/Deploy.git",
           "  https://github.com/Acme/Deploy\n",
       }) {
    EXPECT_EQ(RepoKey(url), "github.com/Acme/Deploy") << url;
  }
}

TEST(RepoKeyTest, PathCaseIsKeptAndComparedExactly) {
  EXPECT_EQ(RepoKey("https://github.com/acme/deploy"), "github.com/acme/deploy");
  EXPECT_NE(RepoKey("https://github.com/acme/deploy"), RepoKey("https://github.com/Acme/Deploy"));
}

TEST(RepoKeyTest, NonDefaultPortsAreKept) {
  EXPECT_EQ(RepoKey("https://git.example.com:8443/team/app.git"), "git.example.com:8443/team/app");
  EXPECT_NE(RepoKey("https://git.example.com:8443/team/app"),
            RepoKey("https://git.example.com/team/app"));
  EXPECT_EQ(RepoKey("ssh://git@git.example.com:2222/team/app"), "git.example.com:2222/team/app");
  EXPECT_EQ(RepoKey("http://git.example.com:80/team/app"), "git.example.com/team/app");
  EXPECT_EQ(RepoKey("git://127.0.0.1:9418/app.git"), "127.0.0.1/app");
  EXPECT_EQ(RepoKey("git://127.0.0.1:34567/app.git"), "127.0.0.1:34567/app");
  EXPECT_EQ(RepoKey("http://[::1]:8080/app.git"), "[::1]:8080/app");
  EXPECT_EQ(RepoKey("git@[::1]:app.git"), "[::1]/app");
}

TEST(RepoKeyTest, FileUrlsKeepTheAbsolutePath) {
  EXPECT_EQ(RepoKey("file:///srv/git/x.git"), "file/srv/git/x");
  EXPECT_EQ(RepoKey("file:///srv/git/x"), "file/srv/git/x");
  EXPECT_EQ(RepoKey("file://localhost/srv/git/x.git/"), "file/srv/git/x");
  EXPECT_EQ(RepoKey("file://otherhost/srv/git/x"), "");
}

TEST(RepoKeyTest, GarbageIsEmpty) {
  for (const char* url : {
           "",
           "garbage",
           "not a url",
           "https://",
           "https:///Acme/Deploy",
           "https://github.com",
           "https://github.com/",
           "ftp://github.com/Acme/Deploy",
           "https://github.com:99999/Acme/Deploy",
           "https://github.com:http/Acme/Deploy",
           "https://git hub.com/Acme/Deploy",
           "git@github.com:",
           "file:///",
           "://github.com/x",
       }) {
    EXPECT_EQ(RepoKey(url), "") << url;
  }
}

TEST(RedactUrlTest, DropsHttpCredentialsKeepsSshUser) {
  EXPECT_EQ(RedactUrl("https://user:pw@h/x"), "https://h/x");
  EXPECT_EQ(RedactUrl("https://ghp_token@github.com/Acme/Deploy.git"),
            "https://github.com/Acme/Deploy.git");
  EXPECT_EQ(RedactUrl("http://x-access-token:s3cr3t@h:8080/x?y=1"), "http://h:8080/x?y=1");
  EXPECT_EQ(RedactUrl("https://user:p@ss@h/x"), "https://h/x");
  EXPECT_EQ(RedactUrl("https://user:p/ss@h/x"), "https://h/x");
  EXPECT_EQ(RedactUrl("ssh://git@github.com/Acme/Deploy.git"),
            "ssh://git@github.com/Acme/Deploy.git");
  EXPECT_EQ(RedactUrl("ssh://git:pw@github.com:22/Acme/Deploy"),
            "ssh://git@github.com:22/Acme/Deploy");
  EXPECT_EQ(RedactUrl("git@github.com:Acme/Deploy.git"), "git@github.com:Acme/Deploy.git");
  EXPECT_EQ(RedactUrl("git:pw@github.com:Acme/Deploy.git"), "git@github.com:Acme/Deploy.git");
  // Malformed input still loses what looks like a password.
  EXPECT_EQ(RedactUrl("https//user:pw@h/x"), "https//user@h/x");
  EXPECT_EQ(RedactUrl("https:/user:pw@h/x"), "https@h/x");
}

TEST(RedactUrlTest, LeavesUrlsWithoutCredentialsAlone) {
  for (const char* url : {"https://github.com/Acme/Deploy", "https://h:8443/x",
                          "file:///srv/git/x.git", "https://h/org/repo@v1", "garbage", ""}) {
    EXPECT_EQ(RedactUrl(url), url);
  }
}

}  // namespace
}  // namespace flywheel::git
