#include "editor_bridge/RecoveryStore.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStandardPaths>
#include <algorithm>
#include <cerrno>
#include <csignal>

#include "runtime/Error.h"
#include "runtime/FileIo.h"

namespace qs::editor {

namespace {
QString defaultDir() {
  const QByteArray env = qgetenv("QS_RECOVERY_DIR");
  if (!env.isEmpty()) return QString::fromLocal8Bit(env);
  return QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/recovery";
}

bool processAlive(qint64 pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}
}  // namespace

RecoveryStore::RecoveryStore() : RecoveryStore(defaultDir()) {}
RecoveryStore::RecoveryStore(QString dir) : dir_(std::move(dir)) {}

QString RecoveryStore::ownBase() const {
  return dir_ + "/recovery-" + QString::number(QCoreApplication::applicationPid());
}

bool RecoveryStore::write(const std::string& pageText, const QString& originalFile,
                          QString* error) {
  if (!QDir().mkpath(dir_)) {
    if (error) *error = QObject::tr("cannot create the recovery folder %1").arg(dir_);
    return false;
  }
  QJsonObject meta;
  meta["file"] = originalFile;
  meta["pid"] = QCoreApplication::applicationPid();
  meta["saved"] = QDateTime::currentDateTimeUtc().toString(Qt::ISODate);
  try {
    // The page first: a meta file always names a complete recovery copy.
    writeFileAtomically((ownBase() + ".page.json").toStdString(), pageText);
    writeFileAtomically((ownBase() + ".json").toStdString(),
                        QJsonDocument(meta).toJson().toStdString());
  } catch (const Error& e) {
    if (error) *error = QString::fromStdString(e.what());
    return false;
  }
  return true;
}

void RecoveryStore::discardOwn() {
  QFile::remove(ownBase() + ".json");
  QFile::remove(ownBase() + ".page.json");
}

std::vector<RecoveryStore::Entry> RecoveryStore::orphans() const {
  std::vector<Entry> out;
  QDir d(dir_);
  for (const QFileInfo& fi : d.entryInfoList({"recovery-*.json"}, QDir::Files)) {
    if (fi.fileName().endsWith(".page.json")) continue;
    QFile f(fi.filePath());
    if (!f.open(QIODevice::ReadOnly)) continue;
    const QJsonObject meta = QJsonDocument::fromJson(f.readAll()).object();
    Entry e;
    e.metaPath = fi.filePath();
    e.pagePath = fi.path() + "/" + fi.completeBaseName() + ".page.json";
    e.originalFile = meta["file"].toString();
    e.pid = meta["pid"].toInteger();
    e.savedAt = meta["saved"].toString();
    if (e.pid == QCoreApplication::applicationPid() || processAlive(e.pid)) continue;
    if (!QFile::exists(e.pagePath)) continue;
    out.push_back(e);
  }
  std::sort(out.begin(), out.end(),
            [](const Entry& a, const Entry& b) { return a.savedAt > b.savedAt; });
  return out;
}

void RecoveryStore::remove(const Entry& e) {
  QFile::remove(e.metaPath);
  QFile::remove(e.pagePath);
}

}  // namespace qs::editor
