#pragma once

#include <QString>
#include <vector>

namespace qs::editor {

// Recovery copies of unsaved work. Each running editor writes its own pair of files
// (recovery-<pid>.page.json and recovery-<pid>.json with the original file name) shortly after
// each edit, and removes them once the work is saved or closed. A pair whose process no longer
// runs is what a crash left behind, and is offered for restore at the next start.
class RecoveryStore {
 public:
  // QS_RECOVERY_DIR if set, else <app data>/recovery.
  RecoveryStore();
  explicit RecoveryStore(QString dir);

  const QString& dir() const { return dir_; }
  // Writes this process's recovery copy (atomically). Returns false and a message on failure.
  bool write(const std::string& pageText, const QString& originalFile, QString* error);
  // Removes this process's recovery copy.
  void discardOwn();

  struct Entry {
    QString pagePath;  // the recovery copy
    QString metaPath;
    QString originalFile;  // empty for an untitled page
    qint64 pid = 0;
    QString savedAt;
  };
  // Recovery copies left by editors that are no longer running, newest first.
  std::vector<Entry> orphans() const;
  static void remove(const Entry& e);

 private:
  QString ownBase() const;
  QString dir_;
};

}  // namespace qs::editor
