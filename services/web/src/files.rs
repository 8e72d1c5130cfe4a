//! Private files: the data directory 0700, its files 0600.
//!
//! The data directory holds the SQLite store (`mycoin.sqlite` and SQLite's `-wal` and `-shm`
//! files beside it), the key file and the API token. Other users of the machine must read none
//! of them, also when the directory was made by an older version, by hand, or under a loose
//! umask: every service tightens the modes at start ([`secure_data_dir`], [`secure_sqlite_file`]).
//!
//! SQLite creates its `-wal` and `-shm` files with the mode of the database file, so a database
//! file created 0600 before SQLite opens it keeps them private too.
//!
//! On systems without Unix modes these functions only create what is missing.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Mode of the data directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file in it.
pub const FILE_MODE: u32 = 0o600;

/// The keys service's key file in the data directory (when no passphrase is given).
pub const KEY_FILE_NAME: &str = "keys.key";

/// Whether `name` is one of mycoin's own files in a data directory: the API token, the key
/// file, and the SQLite database with its `-wal`, `-shm` and `-journal` files.
fn is_own_file(name: &str) -> bool {
    name == crate::ApiToken::FILE_NAME || name == KEY_FILE_NAME || name.starts_with("mycoin.sqlite")
}

/// Creates `dir` (and missing parents) with mode 0700, or tightens an existing `dir` to 0700
/// and mycoin's own regular files directly in it ([`is_own_file`]) to 0600 (group and other
/// bits removed). Other files are not mycoin's to change.
pub fn secure_data_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir).map_err(|err| with_path(err, dir))?;
    restrict(dir, DIR_MODE)?;
    for entry in fs::read_dir(dir).map_err(|err| with_path(err, dir))? {
        let entry = entry.map_err(|err| with_path(err, dir))?;
        // Not followed: a symbolic link's target is not the data directory's to change.
        if entry.file_type()?.is_file() && entry.file_name().to_str().is_some_and(is_own_file) {
            restrict(&entry.path(), FILE_MODE)?;
        }
    }
    Ok(())
}

/// For a `sqlite:` URL naming a file: creates its directory (0700) if missing, creates the
/// database file empty with mode 0600 if missing (SQLite takes an empty file as an empty
/// database), and tightens the file and its `-wal`, `-shm` and `-journal` files to 0600.
/// Other URLs (PostgreSQL, `:memory:`) are left alone.
pub fn secure_sqlite_file(database_url: &str) -> io::Result<()> {
    let Some(path) = sqlite_path(database_url) else {
        return Ok(());
    };
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty())
        && !dir.exists()
    {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
        builder.create(dir).map_err(|err| with_path(err, dir))?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    match options.open(&path) {
        Ok(_) => {}
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(with_path(err, &path)),
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.clone().into_os_string();
        name.push(suffix);
        let file = PathBuf::from(name);
        if file.is_file() {
            restrict(&file, FILE_MODE)?;
        }
    }
    Ok(())
}

/// The file of a `sqlite:` URL, or `None` for other URLs and in-memory databases.
fn sqlite_path(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Removes from `path`'s mode every bit `mode` does not have.
fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let current = fs::metadata(path)
            .map_err(|err| with_path(err, path))?
            .permissions()
            .mode();
        let wanted = current & 0o7777 & mode;
        if current & 0o7777 != wanted {
            fs::set_permissions(path, fs::Permissions::from_mode(wanted))
                .map_err(|err| with_path(err, path))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

fn with_path(err: io::Error, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_loose_directory_and_its_files_are_tightened() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        for name in [
            "mycoin.sqlite",
            "mycoin.sqlite-wal",
            "mycoin.sqlite-shm",
            "api-token",
        ] {
            fs::write(dir.join(name), b"x").unwrap();
            fs::set_permissions(dir.join(name), fs::Permissions::from_mode(0o644)).unwrap();
        }
        fs::write(dir.join("notes.txt"), b"x").unwrap();
        fs::set_permissions(dir.join("notes.txt"), fs::Permissions::from_mode(0o644)).unwrap();
        secure_data_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(
            mode(&dir.join("notes.txt")),
            0o644,
            "not mycoin's file: left alone"
        );
        for name in [
            "mycoin.sqlite",
            "mycoin.sqlite-wal",
            "mycoin.sqlite-shm",
            "api-token",
        ] {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
    }

    #[test]
    fn a_new_database_file_is_private_and_other_urls_are_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("new").join("mycoin.sqlite");
        secure_sqlite_file(&format!("sqlite://{}?mode=rwc", file.display())).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
        assert_eq!(fs::metadata(&file).unwrap().len(), 0);
        secure_sqlite_file("postgres://u@h/db").unwrap();
        secure_sqlite_file("sqlite::memory:").unwrap();
        assert_eq!(
            sqlite_path("sqlite:///var/lib/m.sqlite?mode=rwc"),
            Some(PathBuf::from("/var/lib/m.sqlite"))
        );
    }
}
