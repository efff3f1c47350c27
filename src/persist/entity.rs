//! Per-entity directories: one directory per named queue or stream, holding its files and a `NAME` file.
//!
//! ```text
//! <root>/<readable prefix>-<hash:016x>/NAME       the entity's exact name (UTF-8)
//! <root>/<readable prefix>-<hash:016x>/…          the engine's files
//! <root>/<readable prefix>-<hash:016x>.deleted/   a deleted entity, removed in the background or at start-up
//! ```
//!
//! A directory name is a sanitised prefix of the name (for people browsing the data directory) plus the name's
//! stable hash in the entity's [`Namespace`], so it is always a short, safe path component whatever the name
//! holds; the exact name is in `NAME`. A directory without `NAME` is the leftover of an interrupted create.
//! Blocking std I/O: entities are created and deleted rarely, and start-up runs before the shards serve.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use nexo_shards::hash::{stable_hash, Namespace};

use super::manifest::{create_dir_durably, sync_dir};
use super::PersistError;

/// File holding an entity's exact name inside its directory.
pub const NAME_FILE: &str = "NAME";
/// Suffix of a deleted entity's directory until it is removed.
pub const DELETED_SUFFIX: &str = ".deleted";
/// Characters of the name kept in the directory name.
pub const READABLE_PREFIX_CHARS: usize = 40;

/// `<readable prefix>-<hash:016x>`: the directory name of entity `name` of kind `kind`.
pub fn entity_dir_name(kind: EntityKind, name: &str) -> String {
    let readable: String = name
        .chars()
        .take(READABLE_PREFIX_CHARS)
        .map(|character| if character.is_ascii_alphanumeric() || character == '_' { character } else { '_' })
        .collect();
    format!("{readable}-{:016x}", stable_hash(kind.namespace(), name.as_bytes()))
}

/// Creates `root` and removes leftovers of interrupted deletes and creates (directories renamed to `*.deleted`,
/// or without a `NAME` file).
pub fn prepare_root(root: &Path) -> Result<(), PersistError> {
    create_dir_durably(root)?;
    let mut removed = false;
    for entry in fs::read_dir(root).map_err(|error| PersistError::io("listing", root, error))? {
        let path = entry.map_err(|error| PersistError::io("listing", root, error))?.path();
        let deleted =
            path.extension().is_some_and(|extension| format!(".{}", extension.to_string_lossy()) == DELETED_SUFFIX);
        if path.is_dir() && (deleted || !path.join(NAME_FILE).exists()) {
            fs::remove_dir_all(&path).map_err(|error| PersistError::io("removing", &path, error))?;
            removed = true;
        }
    }
    if removed {
        sync_dir(root)?;
    }
    Ok(())
}

/// The kinds of entity with a directory each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    Queue,
    Stream,
}

impl EntityKind {
    /// The owner-hash namespace of its names, also hashed into its directory names.
    pub fn namespace(self) -> Namespace {
        match self {
            EntityKind::Queue => Namespace::Queue,
            EntityKind::Stream => Namespace::Stream,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            EntityKind::Queue => "queue",
            EntityKind::Stream => "stream",
        }
    }

    fn create_op(self) -> &'static str {
        match self {
            EntityKind::Queue => "creating queue directory",
            EntityKind::Stream => "creating stream directory",
        }
    }
}

/// Creates the directory `dir` of a new entity named `name` and its `NAME` file, durably. Fails if `dir` exists.
pub fn create_entity_dir(dir: &Path, name: &str, kind: EntityKind) -> Result<(), PersistError> {
    if dir.exists() {
        let reason = format!("another {}'s files are there", kind.noun());
        let reason = std::io::Error::new(std::io::ErrorKind::AlreadyExists, reason);
        return Err(PersistError::io(kind.create_op(), dir, reason));
    }
    create_dir_durably(dir)?;
    let name_path = dir.join(NAME_FILE);
    let name_file = fs::File::create(&name_path).map_err(|error| PersistError::io("creating", &name_path, error))?;
    (&name_file)
        .write_all(name.as_bytes())
        .and_then(|()| name_file.sync_all())
        .map_err(|error| PersistError::io("writing", &name_path, error))?;
    sync_dir(dir)
}

/// The exact name in `dir`'s `NAME` file, or `None` when it is missing or unreadable (not an entity directory).
pub fn read_entity_name(dir: &Path) -> Option<String> {
    fs::read_to_string(dir.join(NAME_FILE)).ok()
}

/// Renames `dir` to `<dir>.deleted` and syncs its parent, so the delete survives a crash. Returns the new path.
pub fn mark_deleted(dir: &Path) -> Result<PathBuf, PersistError> {
    let mut deleted = dir.to_path_buf().into_os_string();
    deleted.push(DELETED_SUFFIX);
    let deleted = PathBuf::from(deleted);
    fs::rename(dir, &deleted).map_err(|error| PersistError::io("renaming", dir, error))?;
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_pinned_short_and_safe() {
        let hash = stable_hash(Namespace::Stream, b"user-events");
        assert_eq!(entity_dir_name(EntityKind::Stream, "user-events"), format!("user_events-{hash:016x}"));
        assert_ne!(entity_dir_name(EntityKind::Stream, "jobs"), entity_dir_name(EntityKind::Queue, "jobs"));
        let long = "é/../x".repeat(100);
        for name in ["../../etc", "a/b", "\u{0}", "", long.as_str()] {
            let component = entity_dir_name(EntityKind::Stream, name);
            assert!(component.len() <= READABLE_PREFIX_CHARS + 17, "{component}");
            assert!(!component.contains('/') && !component.starts_with('.'), "{component}");
        }
    }

    #[test]
    fn prepare_removes_deleted_and_unnamed_directories() -> Result<(), PersistError> {
        let temp = tempfile::tempdir().map_err(|error| PersistError::io("tempdir", Path::new("/tmp"), error))?;
        let root = temp.path().join("things");
        let kept = root.join(entity_dir_name(EntityKind::Stream, "kept"));
        create_entity_dir(&kept, "kept", EntityKind::Stream)?;
        let gone = root.join(entity_dir_name(EntityKind::Stream, "gone"));
        create_entity_dir(&gone, "gone", EntityKind::Stream)?;
        let deleted = mark_deleted(&gone)?;
        let unnamed = root.join("half-created");
        fs::create_dir_all(&unnamed).map_err(|error| PersistError::io("creating", &unnamed, error))?;
        assert!(create_entity_dir(&kept, "kept", EntityKind::Stream).is_err(), "an existing directory is never reused");
        prepare_root(&root)?;
        assert_eq!(read_entity_name(&kept).as_deref(), Some("kept"));
        assert!(!deleted.exists() && !unnamed.exists() && !gone.exists());
        Ok(())
    }
}
