//! The storage toolkit every service stands on, and the only code that touches the database (redb).
//!
//! A service declares its tables once, in a [`Schema`]; opening, reset, state export and state import all
//! derive from that one list. Records are versioned JSON ([`Record`], [`Version`]): an unknown version is a
//! clear error, never a silent default. Reads run in read transactions ([`Store::read`]); every change is
//! one write transaction ([`Store::write`]) that is durable (committed with an fsync) before `write`
//! returns, so a service that answers after `write` only acknowledges what a crash or a power loss keeps.
//!
//! Writes go through one writer thread per store, which commits concurrent changes together (group
//! commit): the changes of a batch share one write transaction and one durable commit (one fsync), and
//! none of them is answered before that commit. Each change's writes are staged aside while it runs (its
//! own reads see them, and it sees the kept changes before it); a change that returns `Ok` has its
//! staged writes applied to the batch's transaction, one that fails, refuses or panics has them dropped,
//! so it rolls back alone. Reads never see a change before its batch is durable.
//!
//! Opening refuses, with a sentence saying what happened and what to do: a database another process holds,
//! a corrupt file (redb checks every page's checksum at open, and the file is named), a full disk, missing
//! permissions, a data dir written by fortimock's sled-based versions, and another service's or a newer
//! fortimock's database. After an I/O error the database is reopened before the next write, and
//! [`Store::check_writable`] (behind `/__admin/ready`) says whether the data dir can be written.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use anyhow::Context;
use redb::{
    Database, DatabaseError, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable,
    ReadableTableMetadata, StorageError, TableDefinition,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

mod decoded;
pub use decoded::DecodedRecords;
mod records;
pub use records::Records;

/// The file of a service's database, inside its service dir.
pub const DATABASE_FILE: &str = "store.redb";

/// What the marker table says about the database's layout; a later layout gets a new number.
const STORE_FORMAT: &str = "fortimock-store/1";

/// The table every database carries besides its schema's: `format` and `service`.
const MARKER: TableDefinition<'static, &'static str, &'static str> =
    TableDefinition::new("fortimock");

/// redb's page cache per database (read cache and write buffer together); its default (1 GiB) is far more
/// than a lab needs. Hot records are kept decoded ([`DecodedRecords`]) and other pages come from the
/// kernel's page cache, but every cached page is a 4 KiB allocation the process keeps, and a write
/// transaction that misses reads its pages again (and may write dirty ones early). Measured with
/// `fortimock bench` (BENCHMARKS.md): a suite holding 100,000 tokens grew by 25 to 30 MiB with 8 MiB, 19 to
/// 22 MiB with 4 and 17 to 20 MiB with 2; a one-client provision cost about 300 µs of server CPU with 8 or
/// 4 MiB and 375 µs with 2.
const CACHE_BYTES: usize = 4 * 1024 * 1024;

/// Most changes one group commit makes durable together.
const MAX_BATCH: usize = 256;

/// One table of a service's database: byte keys to byte values (records are [`Record`]s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Table(&'static str);

impl Table {
    pub const fn new(name: &'static str) -> Table {
        Table(name)
    }

    /// The table's name, as state snapshots show it.
    pub const fn name(self) -> &'static str {
        self.0
    }

    fn definition(self) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
        TableDefinition::new(self.0)
    }
}

/// A service's tables, declared once.
#[derive(Debug)]
pub struct Schema {
    /// The service the database belongs to (checked at open).
    pub service: &'static str,
    /// Every table, in the order snapshots list them.
    pub tables: &'static [Table],
}

impl Schema {
    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<Table> {
        self.tables.iter().copied().find(|t| t.name() == name)
    }
}

/// A stored record: versioned JSON, readable in a state snapshot. Each record type carries a
/// [`Version`] field named `v`; a record of another version does not decode. A record type may borrow
/// its text from the bytes it is decoded from ([`decode`] takes any `Deserialize<'a>`).
pub trait Record: Serialize {
    /// What the record is, for errors: `a license record`.
    const KIND: &'static str;
}

/// The `v` field of a record: serializes as `N`, and refuses to deserialize any other number, so a
/// record written by another version of fortimock is an error rather than a silent default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Version<const N: u32>;

impl<const N: u32> Serialize for Version<N> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(N)
    }
}

impl<'de, const N: u32> Deserialize<'de> for Version<N> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let found = u32::deserialize(deserializer)?;
        if found == N {
            Ok(Version)
        } else {
            Err(serde::de::Error::custom(format_args!(
                "record version {found}, but this fortimock reads version {N} (was the data dir \
                 written by another fortimock version?)"
            )))
        }
    }
}

/// A record as bytes.
pub fn encode<R: Record>(record: &R) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record)
        .map_err(|e| StoreError::internal(format!("encoding {}: {e}", R::KIND)))
}

/// A record from its bytes; the error names the record kind and what is wrong.
pub fn decode<'a, R: Record + Deserialize<'a>>(bytes: &'a [u8]) -> Result<R, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::corrupt(format!("{}: {e}", R::KIND)))
}

/// What kind of storage failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The disk (or quota) is full.
    Full,
    /// The data dir cannot be written (permissions, a read-only file system, an I/O error).
    Unwritable,
    /// A record or the file is not what fortimock wrote.
    Corrupt,
    /// Anything else.
    Internal,
}

/// A storage failure: its kind and a sentence saying what happened.
#[derive(Debug, Clone)]
pub struct StoreError {
    failure: Failure,
    message: String,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    pub fn failure(&self) -> Failure {
        self.failure
    }

    /// Whether the service cannot write now but may later (a full disk, permissions): worth a 503.
    pub fn is_unavailable(&self) -> bool {
        matches!(self.failure, Failure::Full | Failure::Unwritable)
    }

    pub fn corrupt(message: impl Into<String>) -> StoreError {
        StoreError {
            failure: Failure::Corrupt,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> StoreError {
        StoreError {
            failure: Failure::Internal,
            message: message.into(),
        }
    }

    fn from_storage(error: &StorageError, what: &str) -> StoreError {
        match error {
            StorageError::Io(io) => StoreError::from_io(io, what),
            StorageError::Corrupted(detail) => {
                StoreError::corrupt(format!("{what}: the database is corrupt: {detail}"))
            }
            StorageError::PreviousIo => StoreError {
                failure: Failure::Unwritable,
                message: format!(
                    "{what}: an earlier I/O error stopped the database; it is reopened before the next write"
                ),
            },
            other => StoreError::internal(format!("{what}: {other}")),
        }
    }

    fn from_io(error: &io::Error, what: &str) -> StoreError {
        let failure = match error.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => Failure::Full,
            _ => Failure::Unwritable,
        };
        let message = match failure {
            Failure::Full => format!("{what}: the disk is full ({error})"),
            _ => format!("{what}: the data dir cannot be written ({error})"),
        };
        StoreError { failure, message }
    }

    fn any(error: impl Into<redb::Error>, what: &str) -> StoreError {
        match error.into() {
            redb::Error::Io(io) => StoreError::from_io(&io, what),
            redb::Error::Corrupted(detail) => {
                StoreError::corrupt(format!("{what}: the database is corrupt: {detail}"))
            }
            redb::Error::PreviousIo => StoreError::from_storage(&StorageError::PreviousIo, what),
            other => StoreError::internal(format!("{what}: {other}")),
        }
    }
}

/// Why a store did not open: each says what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "{} is in use by another process (another fortimock on this data dir?): stop it, or give this one another --data-dir",
        .0.display()
    )]
    Locked(PathBuf),
    #[error(
        "{} is corrupt ({detail}): fortimock will not start on it; restore it from a backup or a state export (fortimock state import), or move it aside to start this service empty",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "the disk holding {} is full ({detail}): free some space and start again",
        path.display()
    )]
    DiskFull { path: PathBuf, detail: String },
    #[error("{} cannot be read or written ({detail}): check its owner and permissions", path.display())]
    Permission { path: PathBuf, detail: String },
    #[error(
        "{} was written by an earlier fortimock (its sled database): this version keeps its data in {DATABASE_FILE}. Export the lab with the earlier version (fortimock state export) and import it here, or start with a new --data-dir",
        .0.display()
    )]
    Legacy(PathBuf),
    #[error("{} belongs to the {found} service, not {expected}", path.display())]
    WrongService {
        path: PathBuf,
        found: String,
        expected: &'static str,
    },
    #[error(
        "{} has the layout `{found}`, which this fortimock does not read (written by a newer version?)",
        path.display()
    )]
    UnknownFormat { path: PathBuf, found: String },
    #[error("opening {}: {detail}", path.display())]
    Other { path: PathBuf, detail: String },
}

impl OpenError {
    fn from_database(path: &Path, error: DatabaseError) -> OpenError {
        let path = path.to_path_buf();
        match error {
            DatabaseError::DatabaseAlreadyOpen => OpenError::Locked(path),
            DatabaseError::Storage(storage) => OpenError::from_storage(path, storage),
            other => OpenError::Other {
                path,
                detail: other.to_string(),
            },
        }
    }

    fn from_storage(path: PathBuf, error: StorageError) -> OpenError {
        match error {
            StorageError::Corrupted(detail) => OpenError::Corrupt { path, detail },
            StorageError::Io(io) => OpenError::from_io(path, &io),
            other => OpenError::Other {
                path,
                detail: other.to_string(),
            },
        }
    }

    fn from_io(path: PathBuf, error: &io::Error) -> OpenError {
        let detail = error.to_string();
        match error.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
                OpenError::DiskFull { path, detail }
            }
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                OpenError::Permission { path, detail }
            }
            io::ErrorKind::WouldBlock => OpenError::Locked(path),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData => {
                OpenError::Corrupt { path, detail }
            }
            _ => OpenError::Other { path, detail },
        }
    }
}

/// Whether `service_dir` holds the sled database of an earlier fortimock (`db/conf`, `db/db`).
fn is_legacy(service_dir: &Path) -> bool {
    let legacy = service_dir.join("db");
    legacy.join("conf").exists() || legacy.join("db").exists()
}

/// Refuses a data dir an earlier fortimock wrote (any service's sled database in it) before anything is
/// created in it, so the refusal leaves the data dir exactly as it was ([`OpenError::Legacy`]).
pub fn check_data_dir(data_dir: &Path) -> Result<(), OpenError> {
    let entries = match std::fs::read_dir(data_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(OpenError::from_io(data_dir.to_path_buf(), &e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| OpenError::from_io(data_dir.to_path_buf(), &e))?;
        let path = entry.path();
        if path.is_dir() && is_legacy(&path) {
            return Err(OpenError::Legacy(path));
        }
    }
    Ok(())
}

/// Where a store keeps its data.
#[derive(Clone)]
enum Location {
    File(PathBuf),
    Memory,
    Simulated(SimulatedDisk),
}

/// A service's database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    schema: &'static Schema,
    location: Location,
    /// The open database; `None` while it is reopened after an I/O error made redb refuse further writes.
    database: RwLock<Option<Arc<Database>>>,
    /// Why the last commit failed, until one succeeds.
    failing: Mutex<Option<StoreError>>,
    writer: Mutex<Option<Writer>>,
    /// Changes submitted and not yet taken by the writer.
    queued: Arc<AtomicUsize>,
    /// The writer's commits, counted twice each: odd while one is under way, even between them. A read
    /// that sees the same even number before and after itself saw exactly the state that number names,
    /// which is what lets [`Store::read_cached`] reuse records decoded by earlier reads of that state.
    generation: AtomicU64,
}

struct Writer {
    jobs: mpsc::Sender<Job>,
    thread: std::thread::JoinHandle<()>,
}

/// A change queued for the writer: `run` makes it inside a transaction and says whether to keep what it
/// wrote and how to answer once the batch's commit is known; `abandon` answers it when it cannot run.
struct Job {
    run: Box<dyn FnOnce(&mut Tx<'_>) -> Settle + Send>,
    abandon: Box<dyn FnOnce(StoreError) + Send>,
}

/// How a change's caller is answered once its batch's commit is known.
type Answer = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// An answer ready to be sent, once the writer has let go of the store.
type Delivery = Box<dyn FnOnce() + Send>;

impl Job {
    /// The change's answer when it cannot run: `reason`.
    fn abandoned(self, reason: &StoreError) -> Delivery {
        let reason = reason.clone();
        Box::new(move || (self.abandon)(reason))
    }
}

/// What a change asks of the commit, and how to answer its caller once the batch is durable.
struct Settle {
    keep: bool,
    answer: Answer,
}

impl Store {
    /// Opens (creating if needed) the database of `schema` in `service_dir`, or in memory when `None`.
    /// Fails with a sentence naming the file and what to do (see [`OpenError`]).
    pub fn open(service_dir: Option<&Path>, schema: &'static Schema) -> Result<Store, OpenError> {
        let location = match service_dir {
            Some(dir) => {
                if is_legacy(dir) {
                    return Err(OpenError::Legacy(dir.to_path_buf()));
                }
                std::fs::create_dir_all(dir)
                    .map_err(|e| OpenError::from_io(dir.to_path_buf(), &e))?;
                Location::File(dir.join(DATABASE_FILE))
            }
            None => Location::Memory,
        };
        Store::start(location, schema)
    }

    /// Opens (creating if needed) the database of `schema` on a [`SimulatedDisk`]: for tests of what a
    /// full disk, a killed process or a power cut does to a store.
    pub fn open_simulated(
        disk: &SimulatedDisk,
        schema: &'static Schema,
    ) -> Result<Store, OpenError> {
        Store::start(Location::Simulated(disk.clone()), schema)
    }

    fn start(location: Location, schema: &'static Schema) -> Result<Store, OpenError> {
        let database = open_database(&location, schema, true)?;
        let shared = Arc::new(Shared {
            schema,
            location,
            database: RwLock::new(Some(Arc::new(database))),
            failing: Mutex::new(None),
            writer: Mutex::new(None),
            queued: Arc::default(),
            generation: AtomicU64::new(0),
        });
        let writer =
            Writer::start(Arc::downgrade(&shared), shared.queued.clone()).map_err(|e| {
                OpenError::Other {
                    path: shared.path(),
                    detail: format!("starting the writer thread: {e}"),
                }
            })?;
        *shared.writer.lock().unwrap_or_else(PoisonError::into_inner) = Some(writer);
        Ok(Store { shared })
    }

    /// The tables this store holds.
    pub fn schema(&self) -> &'static Schema {
        self.shared.schema
    }

    /// The database file; `None` in memory.
    pub fn file(&self) -> Option<&Path> {
        match &self.shared.location {
            Location::File(path) => Some(path),
            Location::Memory | Location::Simulated(_) => None,
        }
    }

    /// Reads in one read transaction (a consistent view).
    pub fn read<T>(
        &self,
        read: impl FnOnce(&mut ReadTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        read(&mut self.begin_read(None)?)
    }

    /// [`Store::read`] for hot paths that keep decoded records beside the store ([`DecodedRecords`]):
    /// a record decoded by an earlier read of the same committed state is reused without reading it. When
    /// a commit started while `read` ran, what it reused and what it read may come from two states, so it
    /// runs again on the transaction alone (it must not change anything outside what it returns).
    pub fn read_cached<T>(
        &self,
        mut read: impl FnMut(&mut ReadTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let before = self.shared.generation.load(Ordering::SeqCst);
        if before.is_multiple_of(2) {
            let result = read(&mut self.begin_read(Some(before))?);
            if self.shared.generation.load(Ordering::SeqCst) == before {
                return result;
            }
        }
        read(&mut self.begin_read(None)?)
    }

    fn begin_read(&self, generation: Option<u64>) -> Result<ReadTx, StoreError> {
        Ok(ReadTx {
            database: Some(self.shared.database()?),
            txn: None,
            tables: Vec::new(),
            generation,
        })
    }

    /// [`Store::write`] for a change of one record that may be missing and whose own rules may refuse it:
    /// `change` answers `None` when there is no such record, or refuses with [`Abort::Refused`], and
    /// then nothing is written and the refusal comes back inside `Ok`.
    pub async fn write_refusable<T, E>(
        &self,
        change: impl FnOnce(&mut Tx<'_>) -> Result<Option<T>, Abort<E>> + Send + 'static,
    ) -> Result<Option<Result<T, E>>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        match self.write(change).await {
            Ok(outcome) => Ok(outcome.map(Ok)),
            Err(Abort::Refused(refusal)) => Ok(Some(Err(refusal))),
            Err(Abort::Storage(error)) => Err(error),
        }
    }

    /// Makes one change: `change` runs in a write transaction; when it returns `Ok` what it wrote is
    /// committed durably (fsync) before this returns, when it returns `Err` nothing it wrote is kept. A
    /// change that wrote nothing commits nothing. Changes run one at a time, in arrival order.
    pub async fn write<T, E>(
        &self,
        change: impl FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel::<Result<T, E>>();
        // Exactly one of `run` and `abandon` answers: whichever takes the sender.
        let sender = Arc::new(Mutex::new(Some(answer)));
        let abandoned = sender.clone();
        let job = Job {
            run: Box::new(move |tx: &mut Tx<'_>| {
                let result = change(tx);
                let keep = result.is_ok() && tx.dirty;
                Settle {
                    keep,
                    answer: Box::new(move |committed: Result<(), StoreError>| {
                        let result = match (result, committed) {
                            (Ok(value), Ok(())) => Ok(value),
                            (Ok(_), Err(e)) => Err(E::from(e)),
                            (Err(refused), _) => Err(refused),
                        };
                        if let Some(sender) = take(&sender) {
                            let _ = sender.send(result);
                        }
                    }),
                }
            }),
            abandon: Box::new(move |error: StoreError| {
                if let Some(sender) = take(&abandoned) {
                    let _ = sender.send(Err(E::from(error)));
                }
            }),
        };
        self.shared.submit(job)?;
        answered.await.unwrap_or_else(|_| {
            Err(E::from(StoreError::internal(
                "the change failed inside the store (a fortimock bug): see the log",
            )))
        })
    }

    /// Whether the data dir can be written now: a durable probe write. `Err` says why not.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.mark_dirty();
            Ok::<(), StoreError>(())
        })
        .await
    }

    /// An entry of the database's marker table (its layout, and the fingerprints of its key files).
    fn marker(&self, name: &str) -> Result<Option<String>, StoreError> {
        let database = self.shared.database()?;
        let txn = database
            .begin_read()
            .map_err(|e| StoreError::any(e, "starting a read"))?;
        let marker = txn
            .open_table(MARKER)
            .map_err(|e| StoreError::any(e, "opening the marker table"))?;
        let value = marker
            .get(name)
            .map_err(|e| StoreError::any(e, "reading the marker table"))?
            .map(|v| v.value().to_owned());
        Ok(value)
    }

    /// Sets an entry of the marker table, in one durable commit (while the store opens, before any change).
    fn set_marker(&self, name: &str, value: &str) -> Result<(), StoreError> {
        let database = self.shared.database()?;
        let txn = database
            .begin_write()
            .map_err(|e| StoreError::any(e, "starting a write"))?;
        {
            let mut marker = txn
                .open_table(MARKER)
                .map_err(|e| StoreError::any(e, "opening the marker table"))?;
            marker
                .insert(name, value)
                .map_err(|e| StoreError::any(e, "writing the marker table"))?;
        }
        txn.commit()
            .map_err(|e| StoreError::any(e, "committing the marker table"))
    }

    /// Empties every table in one change; how many records went.
    pub async fn clear(&self) -> Result<u64, StoreError> {
        let schema = self.schema();
        self.write(move |tx| tx.clear_all(schema)).await
    }
}

/// Takes the sender out of a shared slot, once.
fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

impl Shared {
    fn database(&self) -> Result<Arc<Database>, StoreError> {
        self.database
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| StoreError {
                failure: Failure::Unwritable,
                message: "the database is being reopened after an I/O error".to_owned(),
            })
    }

    fn path(&self) -> PathBuf {
        location_path(&self.location)
    }

    fn submit(&self, job: Job) -> Result<(), StoreError> {
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let sender = writer
            .as_ref()
            .map(|w| w.jobs.clone())
            .ok_or_else(|| StoreError::internal("the store is closed"))?;
        drop(writer);
        self.queued.fetch_add(1, Ordering::Relaxed);
        sender.send(job).map_err(|_| {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            StoreError::internal("the writer thread stopped")
        })
    }

    /// How many changes wait for the writer.
    #[cfg(test)]
    fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Runs `batch` and makes it durable with one fsync; answers every change (once the commit is over:
    /// the generation is even again before anyone is answered).
    fn commit_batch(&self, batch: Vec<Job>) -> Vec<Delivery> {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let deliveries = self.run_batch(batch);
        self.generation.fetch_add(1, Ordering::SeqCst);
        deliveries
    }

    fn run_batch(&self, batch: Vec<Job>) -> Vec<Delivery> {
        let database = match self.reopen_if_failed().and_then(|()| self.database()) {
            Ok(database) => database,
            Err(reason) => {
                return batch
                    .into_iter()
                    .map(|job| job.abandoned(&reason))
                    .collect();
            }
        };
        let mut deliveries: Vec<Delivery> = Vec::with_capacity(batch.len());
        let mut settled: Vec<Ran> = Vec::with_capacity(batch.len());
        let mut failure: Option<StoreError> = None;
        // One transaction for the whole batch, committed once with an fsync.
        let mut txn = match begin_durable(&database) {
            Ok(txn) => Some(txn),
            Err(error) => {
                failure = Some(error);
                None
            }
        };
        // The tables the batch's changes have opened, closed before the commit.
        let mut tables = Vec::new();
        for job in batch {
            match (&failure, &txn) {
                (None, Some(open)) => match run_job(open, &mut tables, job) {
                    Ok(ran) => settled.push(ran),
                    Err((error, answer)) => {
                        settled.push(Ran {
                            kept: true,
                            wrote: false,
                            answer,
                        });
                        failure = Some(error);
                    }
                },
                (Some(reason), _) => deliveries.push(job.abandoned(reason)),
                (None, None) => deliveries
                    .push(job.abandoned(&StoreError::internal("the batch's transaction is gone"))),
            }
        }
        drop(tables);
        let pending = settled.iter().any(|ran| ran.kept);
        let wrote = settled.iter().any(|ran| ran.wrote);
        let durable = match (failure, txn.take()) {
            (Some(error), Some(txn)) => {
                let _ = txn.abort();
                Err(error)
            }
            (Some(error), None) => Err(error),
            (None, Some(txn)) if pending => commit_durably(txn, !wrote),
            (None, Some(txn)) => {
                let _ = txn.abort();
                Ok(())
            }
            (None, None) => Ok(()),
        };
        drop(database);
        let mut failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        match &durable {
            Ok(()) => *failing = None,
            Err(e) => {
                tracing::error!(service = self.schema.service, error = %e, "a commit failed");
                *failing = Some(e.clone());
            }
        }
        drop(failing);
        for Ran { kept, answer, .. } in settled {
            // A change that kept nothing is answered as it was; one that kept something only once it is
            // durable (or with why it is not).
            let outcome = if kept { durable.clone() } else { Ok(()) };
            deliveries.push(Box::new(move || answer(outcome)));
        }
        deliveries
    }

    /// After a failed commit redb refuses every later write until the database is reopened: reopen it.
    fn reopen_if_failed(&self) -> Result<(), StoreError> {
        let Some(failing) = self
            .failing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        else {
            return Ok(());
        };
        if matches!(self.location, Location::Memory) {
            return Err(failing);
        }
        let taken = self
            .database
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(old) = taken {
            // Readers hold clones for the length of a read; the file lock goes with the last one.
            if let Err(still_shared) = release(old) {
                *self
                    .database
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(still_shared);
                return Err(failing);
            }
        }
        match open_database(&self.location, self.schema, false) {
            Ok(database) => {
                *self
                    .database
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(database));
                *self.failing.lock().unwrap_or_else(PoisonError::into_inner) = None;
                tracing::info!(
                    service = self.schema.service,
                    "database reopened after a failed commit"
                );
                Ok(())
            }
            Err(e) => {
                let error = StoreError {
                    failure: match e {
                        OpenError::DiskFull { .. } => Failure::Full,
                        _ => Failure::Unwritable,
                    },
                    message: e.to_string(),
                };
                *self.failing.lock().unwrap_or_else(PoisonError::into_inner) = Some(error.clone());
                Err(error)
            }
        }
    }
}

/// Drops `database` once nobody else holds it (waiting up to two seconds for reads to end).
fn release(mut database: Arc<Database>) -> Result<(), Arc<Database>> {
    for _ in 0..2000 {
        match Arc::try_unwrap(database) {
            Ok(owned) => {
                drop(owned);
                return Ok(());
            }
            Err(shared) => {
                database = shared;
                std::thread::park_timeout(std::time::Duration::from_millis(1));
            }
        }
    }
    Err(database)
}

/// Runs one change of a batch in the batch's transaction: whether it kept something, and how to answer it.
/// `Err` when applying its writes failed, which fails the whole batch. `tables` are the tables the batch's
/// changes opened so far: each change uses them and adds the ones it opens, so a table is opened (and
/// closed, which records its root in the transaction) once per batch, not once per change.
fn run_job<'t>(
    txn: &'t redb::WriteTransaction,
    tables: &mut Vec<(Table, WriteTable<'t>)>,
    job: Job,
) -> Result<Ran, (StoreError, Answer)> {
    let mut tx = Tx::new(txn, std::mem::take(tables));
    let ran = settle_job(&mut tx, job);
    *tables = std::mem::take(&mut tx.tables);
    ran
}

/// [`run_job`]'s work on the change's `tx`.
fn settle_job(tx: &mut Tx<'_>, job: Job) -> Result<Ran, (StoreError, Answer)> {
    let Job { run, abandon } = job;
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(tx)));
    let settle = match ran {
        Ok(settle) => settle,
        Err(_) => {
            tracing::error!("a change panicked inside the store; it was rolled back");
            let answer: Answer = Box::new(move |_| {
                abandon(StoreError::internal(
                    "the change failed inside the store (a fortimock bug): see the log",
                ));
            });
            return Ok(Ran::dropped(answer));
        }
    };
    // A storage error the change hit (and perhaps ignored) rolls it back whatever it returned.
    if let Some(error) = tx.error.take() {
        let answer = settle.answer;
        return Ok(Ran::dropped(Box::new(move |_| answer(Err(error)))));
    }
    if !settle.keep {
        return Ok(Ran::dropped(settle.answer));
    }
    match tx.apply() {
        Ok(wrote) => Ok(Ran {
            kept: true,
            wrote,
            answer: settle.answer,
        }),
        Err(error) => Err((error, settle.answer)),
    }
}

/// What became of one change of a batch.
struct Ran {
    /// It is to be committed (and answered once durable).
    kept: bool,
    /// It wrote records (a probe is kept without writing any).
    wrote: bool,
    answer: Answer,
}

impl Ran {
    fn dropped(answer: Answer) -> Ran {
        Ran {
            kept: false,
            wrote: false,
            answer,
        }
    }
}

/// Starts a write transaction that commits with an fsync.
fn begin_durable(database: &Database) -> Result<redb::WriteTransaction, StoreError> {
    let mut txn = database
        .begin_write()
        .map_err(|e| StoreError::any(e, "starting a write"))?;
    txn.set_durability(Durability::Immediate)
        .map_err(|e| StoreError::internal(format!("asking for a durable commit: {e}")))?;
    Ok(txn)
}

/// Commits `txn` with an fsync. When its changes wrote nothing (a writability probe) the marker is touched
/// first, so the database cannot skip the commit; otherwise the marker is left alone, sparing every commit
/// its table's pages.
fn commit_durably(txn: redb::WriteTransaction, touch_marker: bool) -> Result<(), StoreError> {
    if touch_marker {
        let mut marker = txn
            .open_table(MARKER)
            .map_err(|e| StoreError::any(e, "opening the marker table"))?;
        marker
            .insert("format", STORE_FORMAT)
            .map_err(|e| StoreError::from_storage(&e, "writing the marker"))?;
    }
    txn.commit()
        .map_err(|e| StoreError::any(e, "committing durably"))
}

impl Writer {
    fn start(shared: std::sync::Weak<Shared>, queued: Arc<AtomicUsize>) -> io::Result<Writer> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let service = shared.upgrade().map_or("store", |s| s.schema.service);
        let thread = std::thread::Builder::new()
            .name(format!("{service}-writer"))
            .spawn(move || {
                while let Ok(first) = queue.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    queued.fetch_sub(batch.len(), Ordering::Relaxed);
                    let Some(store) = shared.upgrade() else {
                        return;
                    };
                    let deliveries = store.commit_batch(batch);
                    // The store is let go before anyone is answered: a caller that drops the last handle
                    // once answered closes the database there and then, not later on this thread.
                    drop(store);
                    for deliver in deliveries {
                        deliver();
                    }
                }
            })?;
        Ok(Writer { jobs, thread })
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Closing the queue ends the writer thread once it has finished what was queued.
        let writer = self
            .writer
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(Writer { jobs, thread }) = writer {
            drop(jobs);
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

/// The file a location names, for messages.
fn location_path(location: &Location) -> PathBuf {
    match location {
        Location::File(path) => path.clone(),
        Location::Memory => PathBuf::from("(in memory)"),
        Location::Simulated(_) => PathBuf::from("(simulated disk)"),
    }
}

/// Opens the database at `location`, creating it first if there is none. A new database is built whole
/// elsewhere (a temporary file, renamed into place once its layout is committed and synced), so a kill
/// during the first start never leaves a half-made file that would not open again. An existing one has
/// every page checked when `check` (the first open of a run; a reopen after an I/O error skips it), and
/// its marker checked.
fn open_database(
    location: &Location,
    schema: &'static Schema,
    check: bool,
) -> Result<Database, OpenError> {
    let mut builder = Database::builder();
    builder.set_cache_size(CACHE_BYTES);
    builder.set_check_integrity_on_open(check);
    let path = location_path(location);
    let database = match location {
        Location::Memory => {
            let database = builder
                .create_with_backend(redb::backends::InMemoryBackend::new())
                .map_err(|e| OpenError::from_database(&path, e))?;
            write_layout(&database, schema, &path)?;
            return Ok(database);
        }
        Location::File(file) => {
            // Created only where there is no file: a file that is there but empty once held data (fortimock
            // builds a new database aside and renames it into place whole), so it is refused, not reused.
            match file.metadata() {
                Ok(metadata) if metadata.len() == 0 => {
                    return Err(OpenError::Corrupt {
                        path,
                        detail: "the file is empty (0 bytes): it was truncated".to_owned(),
                    });
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => create_file(file, schema)?,
                Err(e) => return Err(OpenError::from_io(path, &e)),
            }
            builder.open(file)
        }
        Location::Simulated(disk) => {
            if disk.is_empty() {
                let scratch = disk.scratch();
                let built = Database::builder()
                    .create_with_backend(SimulatedBackend(scratch.clone()))
                    .map_err(|e| OpenError::from_database(&path, e))
                    .and_then(|database| write_layout(&database, schema, &path));
                disk.install(&scratch, built.is_ok())
                    .map_err(|e| OpenError::from_io(path.clone(), &e))?;
                built?;
            }
            builder.create_with_backend(SimulatedBackend(disk.clone()))
        }
    }
    .map_err(|e| OpenError::from_database(&path, e))?;
    check_layout(&database, schema, &path)?;
    Ok(database)
}

/// Builds a new database for `schema` at `file`: in `<file>.new` (a leftover from a killed start is
/// discarded), its layout committed, synced, renamed into place, and the directory synced.
fn create_file(file: &Path, schema: &'static Schema) -> Result<(), OpenError> {
    let io = |e: io::Error| OpenError::from_io(file.to_path_buf(), &e);
    let building = file.with_extension("redb.new");
    match std::fs::remove_file(&building) {
        Ok(()) => {
            tracing::info!(file = %building.display(), "discarded a database a killed start left half-built")
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    {
        let mut builder = Database::builder();
        builder.set_cache_size(CACHE_BYTES);
        let database = builder
            .create(&building)
            .map_err(|e| OpenError::from_database(&building, e))?;
        write_layout(&database, schema, &building)?;
    }
    std::fs::File::open(&building)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    std::fs::rename(&building, file).map_err(io)?;
    if let Some(dir) = file.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
    }
    Ok(())
}

/// Writes the marker and creates every table of `schema`, in one durable commit.
fn write_layout(
    database: &Database,
    schema: &'static Schema,
    path: &Path,
) -> Result<(), OpenError> {
    let other = |detail: String| OpenError::Other {
        path: path.to_path_buf(),
        detail,
    };
    let storage = |e: StorageError| OpenError::from_storage(path.to_path_buf(), e);
    let txn = database.begin_write().map_err(|e| other(e.to_string()))?;
    {
        let mut marker = txn.open_table(MARKER).map_err(|e| other(e.to_string()))?;
        marker.insert("format", STORE_FORMAT).map_err(storage)?;
        marker.insert("service", schema.service).map_err(storage)?;
        for table in schema.tables {
            txn.open_table(table.definition())
                .map_err(|e| other(format!("opening table {}: {e}", table.name())))?;
        }
    }
    txn.commit().map_err(|e| match e {
        redb::CommitError::Storage(s) => storage(s),
        other_error => other(other_error.to_string()),
    })
}

/// Checks an existing database's marker: fortimock's layout, this service's. Tables a newer schema added
/// are created (one commit); an up-to-date database is not written to.
fn check_layout(
    database: &Database,
    schema: &'static Schema,
    path: &Path,
) -> Result<(), OpenError> {
    let other = |detail: String| OpenError::Other {
        path: path.to_path_buf(),
        detail,
    };
    let storage = |e: StorageError| OpenError::from_storage(path.to_path_buf(), e);
    let txn = database.begin_read().map_err(|e| other(e.to_string()))?;
    let marker = match txn.open_table(MARKER) {
        Ok(marker) => marker,
        Err(redb::TableError::TableDoesNotExist(_)) => {
            return Err(OpenError::UnknownFormat {
                path: path.to_path_buf(),
                found: "no fortimock marker".to_owned(),
            });
        }
        Err(e) => return Err(other(e.to_string())),
    };
    let format = marker
        .get("format")
        .map_err(storage)?
        .map(|v| v.value().to_owned())
        .unwrap_or_default();
    if format != STORE_FORMAT {
        return Err(OpenError::UnknownFormat {
            path: path.to_path_buf(),
            found: format,
        });
    }
    let service = marker
        .get("service")
        .map_err(storage)?
        .map(|v| v.value().to_owned())
        .unwrap_or_default();
    if service != schema.service {
        return Err(OpenError::WrongService {
            path: path.to_path_buf(),
            found: service,
            expected: schema.service,
        });
    }
    let missing = schema.tables.iter().any(|table| {
        matches!(
            txn.open_table(table.definition()),
            Err(redb::TableError::TableDoesNotExist(_))
        )
    });
    drop(marker);
    drop(txn);
    if missing {
        write_layout(database, schema, path)?;
    }
    Ok(())
}

/// A disk in memory, for tests of what storage failures do to a store: it can fail writes as a full disk
/// does ([`SimulatedDisk::fail_writes`]), stop for good after a number of writes as a killed process does
/// ([`SimulatedDisk::crash_after`]), and give the image a power cut would leave: what was synced, plus any
/// part of what was not ([`SimulatedDisk::power_loss_image`]). Cheap to clone: clones are the same disk.
#[derive(Clone, Default)]
pub struct SimulatedDisk {
    state: Arc<Mutex<DiskState>>,
}

#[derive(Default)]
struct DiskState {
    /// What reads see (the page cache, for a real disk).
    live: Vec<u8>,
    /// What the last sync made durable.
    synced: Vec<u8>,
    /// Writes and length changes since the last sync, in order.
    unsynced: Vec<DiskChange>,
    failing: Option<io::ErrorKind>,
    /// Mutating operations left before the disk stops answering at all.
    ops_left: Option<usize>,
    syncs: u64,
}

#[derive(Clone)]
enum DiskChange {
    Write { offset: usize, data: Vec<u8> },
    Len(usize),
}

impl DiskChange {
    fn apply(&self, image: &mut Vec<u8>) {
        match self {
            DiskChange::Write { offset, data } => {
                let end = offset + data.len();
                if image.len() < end {
                    image.resize(end, 0);
                }
                image[*offset..end].copy_from_slice(data);
            }
            DiskChange::Len(len) => image.resize(*len, 0),
        }
    }
}

impl SimulatedDisk {
    /// An empty disk.
    pub fn new() -> SimulatedDisk {
        SimulatedDisk::default()
    }

    /// A disk holding `image`, all of it durable (as after a restart).
    pub fn from_image(image: Vec<u8>) -> SimulatedDisk {
        let disk = SimulatedDisk::new();
        {
            let mut state = disk.state();
            state.synced = image.clone();
            state.live = image;
        }
        disk
    }

    fn state(&self) -> std::sync::MutexGuard<'_, DiskState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// From now on every write, length change and sync fails with `kind` (`None`: they work again).
    pub fn fail_writes(&self, kind: Option<io::ErrorKind>) {
        self.state().failing = kind;
    }

    /// After `ops` more writes, length changes and syncs, the disk stops: every operation fails, as if the
    /// process had been killed there.
    pub fn crash_after(&self, ops: usize) {
        self.state().ops_left = Some(ops);
    }

    /// What a restart after the process was killed sees: everything written (the page cache survives).
    pub fn process_crash_image(&self) -> Vec<u8> {
        self.state().live.clone()
    }

    /// What a restart after a power cut sees: what was synced, plus the first `kept` of the writes made
    /// since (a disk persists some of what it was not asked to, in order, the last one perhaps torn in
    /// half when `torn`).
    pub fn power_loss_image(&self, kept: usize, torn: bool) -> Vec<u8> {
        let state = self.state();
        let mut image = state.synced.clone();
        for (i, change) in state.unsynced.iter().enumerate().take(kept) {
            match change {
                DiskChange::Write { offset, data } if torn && i + 1 == kept => {
                    let half = DiskChange::Write {
                        offset: *offset,
                        data: data[..data.len() / 2].to_vec(),
                    };
                    half.apply(&mut image);
                }
                other => other.apply(&mut image),
            }
        }
        image
    }

    fn is_empty(&self) -> bool {
        self.state().live.is_empty()
    }

    /// A second disk that shares this one's countdown to a kill ([`SimulatedDisk::crash_after`]): where a
    /// new database is built before it is moved into place.
    fn scratch(&self) -> SimulatedDisk {
        let scratch = SimulatedDisk::new();
        scratch.state().ops_left = self.state().ops_left;
        scratch
    }

    /// Moves what `scratch` synced into place, as renaming a finished file does (one operation, durable);
    /// with `finished` false (the build failed) only the countdown comes back.
    fn install(&self, scratch: &SimulatedDisk, finished: bool) -> io::Result<()> {
        let built = scratch.state();
        let mut state = self.state();
        state.ops_left = built.ops_left;
        if !finished {
            return Ok(());
        }
        SimulatedBackend::mutate(&mut state)?;
        state.live = built.synced.clone();
        state.synced = built.synced.clone();
        state.unsynced.clear();
        Ok(())
    }

    /// How many changes are written but not synced.
    pub fn unsynced(&self) -> usize {
        self.state().unsynced.len()
    }

    /// How many syncs the disk has done.
    pub fn syncs(&self) -> u64 {
        self.state().syncs
    }
}

/// A [`SimulatedDisk`] as redb's storage.
struct SimulatedBackend(SimulatedDisk);

impl fmt::Debug for SimulatedBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SimulatedBackend")
    }
}

impl SimulatedBackend {
    /// Counts one mutating operation, failing it if the disk fails or has stopped.
    fn mutate(state: &mut DiskState) -> io::Result<()> {
        match state.ops_left {
            Some(0) => return Err(io::Error::other("the simulated process was killed")),
            Some(left) => state.ops_left = Some(left - 1),
            None => {}
        }
        if let Some(kind) = state.failing {
            return Err(io::Error::new(kind, "simulated failure"));
        }
        Ok(())
    }

    fn stopped(state: &DiskState) -> io::Result<()> {
        if state.ops_left == Some(0) {
            return Err(io::Error::other("the simulated process was killed"));
        }
        Ok(())
    }
}

impl redb::StorageBackend for SimulatedBackend {
    fn len(&self) -> Result<u64, io::Error> {
        let state = self.0.state();
        SimulatedBackend::stopped(&state)?;
        Ok(state.live.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        let state = self.0.state();
        SimulatedBackend::stopped(&state)?;
        let offset = usize::try_from(offset).map_err(io::Error::other)?;
        let source = state
            .live
            .get(offset..offset + out.len())
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"))?;
        out.copy_from_slice(source);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let mut state = self.0.state();
        SimulatedBackend::mutate(&mut state)?;
        let len = usize::try_from(len).map_err(io::Error::other)?;
        let change = DiskChange::Len(len);
        change.apply(&mut state.live);
        state.unsynced.push(change);
        Ok(())
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        let mut state = self.0.state();
        SimulatedBackend::mutate(&mut state)?;
        state.synced = state.live.clone();
        state.unsynced.clear();
        state.syncs += 1;
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut state = self.0.state();
        SimulatedBackend::mutate(&mut state)?;
        let offset = usize::try_from(offset).map_err(io::Error::other)?;
        let change = DiskChange::Write {
            offset,
            data: data.to_vec(),
        };
        change.apply(&mut state.live);
        state.unsynced.push(change);
        Ok(())
    }
}

/// Why a change made with [`Store::write_refusable`] wrote nothing: its own rule refused it, or the store
/// failed.
pub enum Abort<E> {
    Refused(E),
    Storage(StoreError),
}

impl<E> From<StoreError> for Abort<E> {
    fn from(error: StoreError) -> Abort<E> {
        Abort::Storage(error)
    }
}

/// Whether to walk a table from its first key or its last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Ascending,
    Descending,
}

/// One stored entry: key and value bytes.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Reading: what read and write transactions share.
pub trait Reader {
    /// The value stored under `key`.
    fn get(&mut self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// The entries whose keys start with `prefix` (all of them for an empty prefix), in `order`, at
    /// most `limit`.
    fn scan(
        &mut self,
        table: Table,
        prefix: &[u8],
        order: Order,
        limit: Option<usize>,
    ) -> Result<Vec<Entry>, StoreError>;

    /// How many entries `table` holds.
    fn count(&mut self, table: Table) -> Result<u64, StoreError>;

    /// Whether `key` is stored.
    fn contains(&mut self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.get(table, key)?.is_some())
    }

    /// Every entry of `table`, in key order.
    fn all(&mut self, table: Table) -> Result<Vec<Entry>, StoreError> {
        self.scan(table, &[], Order::Ascending, None)
    }

    /// The record stored under `key`.
    fn record<R: Record + DeserializeOwned>(
        &mut self,
        table: Table,
        key: &[u8],
    ) -> Result<Option<R>, StoreError>
    where
        Self: Sized,
    {
        self.get(table, key)?
            .map(|bytes| decode(&bytes))
            .transpose()
    }
}

/// The first key after every key starting with `prefix`; `None` when there is none (all 0xFF).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Collects a redb range into owned entries.
fn collect_range(
    range: redb::Range<'_, &'static [u8], &'static [u8]>,
    order: Order,
    limit: Option<usize>,
    what: &str,
) -> Result<Vec<Entry>, StoreError> {
    let limit = limit.unwrap_or(usize::MAX);
    let items: Box<dyn Iterator<Item = _>> = match order {
        Order::Ascending => Box::new(range.take(limit)),
        Order::Descending => Box::new(range.rev().take(limit)),
    };
    items
        .map(|item| {
            let (key, value) = item.map_err(|e| StoreError::from_storage(&e, what))?;
            Ok((key.value().to_vec(), value.value().to_vec()))
        })
        .collect()
}

fn scan_table<T>(
    table: &T,
    prefix: &[u8],
    order: Order,
    limit: Option<usize>,
    what: &str,
) -> Result<Vec<Entry>, StoreError>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let range = match prefix_end(prefix) {
        _ if prefix.is_empty() => table.range::<&[u8]>(..),
        Some(end) => table.range::<&[u8]>(prefix..end.as_slice()),
        None => table.range::<&[u8]>(prefix..),
    }
    .map_err(|e| StoreError::from_storage(&e, what))?;
    collect_range(range, order, limit, what)
}

/// A table opened in a read transaction.
type ReadTable = ReadOnlyTable<&'static [u8], &'static [u8]>;

/// A table opened in a write transaction.
type WriteTable<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

/// A read transaction: a consistent view of the store.
pub struct ReadTx {
    /// The database the read transaction is begun on, until it is.
    database: Option<Arc<Database>>,
    /// The read transaction, begun when the read first opens a table: a read answered from decoded records
    /// alone ([`Store::read_cached`]) never begins one. It sees the state the read's generation names
    /// when that generation is still the store's once the read is done.
    txn: Option<redb::ReadTransaction>,
    tables: Vec<(Table, ReadTable)>,
    /// The committed state this read sees, when it runs under [`Store::read_cached`].
    generation: Option<u64>,
}

impl ReadTx {
    /// The committed state this read sees, when records decoded from it may be reused (see
    /// [`Store::read_cached`]).
    pub fn generation(&self) -> Option<u64> {
        self.generation
    }

    /// Calls `visit` with every entry of `table`, in key order, each borrowed from the store's pages: a
    /// state export writes a table of a million records without holding or copying them. Stops at the
    /// first error `visit` returns.
    pub fn visit(
        &mut self,
        table: Table,
        visit: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.visit_range(table, .., visit)
    }

    /// [`ReadTx::visit`] over the entries whose keys are in `keys`: reads that share a table out among
    /// threads each take a range.
    pub fn visit_range<'k>(
        &mut self,
        table: Table,
        keys: impl RangeBounds<&'k [u8]>,
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let what = format!("reading {}", table.name());
        let range = self
            .table(table)?
            .range::<&[u8]>(keys)
            .map_err(|e| StoreError::from_storage(&e, &what))?;
        for entry in range {
            let (key, value) = entry.map_err(|e| StoreError::from_storage(&e, &what))?;
            visit(key.value(), value.value())?;
        }
        Ok(())
    }

    /// The read transaction, begun now if it was not.
    fn txn(&mut self) -> Result<&redb::ReadTransaction, StoreError> {
        if self.txn.is_none() {
            let begun = self
                .database
                .as_ref()
                .ok_or_else(|| StoreError::internal("a read without its database"))?
                .begin_read()
                .map_err(|e| StoreError::any(e, "starting a read"))?;
            // The transaction holds what it reads; the database handle is not needed any more.
            self.database = None;
            return Ok(self.txn.insert(begun));
        }
        self.txn
            .as_ref()
            .ok_or_else(|| StoreError::internal("a read without its transaction"))
    }

    fn table(&mut self, table: Table) -> Result<&ReadTable, StoreError> {
        if let Some(at) = self.tables.iter().position(|(t, _)| *t == table) {
            return Ok(&self.tables[at].1);
        }
        let opened = self
            .txn()?
            .open_table(table.definition())
            .map_err(|e| StoreError::any(e, &format!("opening table {}", table.name())))?;
        self.tables.push((table, opened));
        Ok(&self.tables[self.tables.len() - 1].1)
    }
}

impl Reader for ReadTx {
    fn get(&mut self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let opened = self.table(table)?;
        let value = opened
            .get(key)
            .map_err(|e| StoreError::from_storage(&e, &format!("reading {}", table.name())))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn scan(
        &mut self,
        table: Table,
        prefix: &[u8],
        order: Order,
        limit: Option<usize>,
    ) -> Result<Vec<Entry>, StoreError> {
        let what = format!("reading {}", table.name());
        let opened = self.table(table)?;
        scan_table(opened, prefix, order, limit, &what)
    }

    fn count(&mut self, table: Table) -> Result<u64, StoreError> {
        let opened = self.table(table)?;
        opened
            .len()
            .map_err(|e| StoreError::from_storage(&e, &format!("counting {}", table.name())))
    }
}

/// A staged write: the key, and its new value (`None`: removed).
type StagedEntry = (Vec<u8>, Option<Vec<u8>>);

/// One change's writes to one table, staged until the change settles: `None` marks a removed key.
#[derive(Default)]
struct Staged {
    /// The change emptied the table first: nothing of what the batch's transaction holds shows through.
    cleared: bool,
    /// Records given whole to the emptied table ([`Tx::put_all`]), sorted: under `entries`, over what the
    /// transaction holds.
    given: Option<Records>,
    entries: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl Staged {
    /// What the change staged under `key`: `Some(None)` for a removal, `None` when it staged nothing.
    fn get(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        if let Some(value) = self.entries.get(key) {
            return Some(value.as_deref());
        }
        self.given.as_ref()?.get(key).map(Some)
    }

    /// Every key the change staged (given records and single writes) with its value, in key order.
    fn all(&self) -> Vec<(&[u8], Option<&[u8]>)> {
        let given = self.given.iter().flat_map(|given| given.iter());
        let given = given.filter(|(key, _)| !self.entries.contains_key(*key));
        let mut all: Vec<(&[u8], Option<&[u8]>)> = given.map(|(k, v)| (k, Some(v))).collect();
        all.extend(
            self.entries
                .iter()
                .map(|(key, value)| (key.as_slice(), value.as_deref())),
        );
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }
}

/// A change in progress: reads see what the batch's transaction holds (the changes kept before it) with
/// this change's own staged writes over it. The writes reach the transaction only when the change is kept.
pub struct Tx<'t> {
    txn: &'t redb::WriteTransaction,
    tables: Vec<(Table, WriteTable<'t>)>,
    staged: Vec<(Table, Staged)>,
    dirty: bool,
    /// The first storage error a read or write hit: the change is rolled back whatever it returns.
    error: Option<StoreError>,
    _not_send: PhantomData<*const ()>,
}

impl<'t> Tx<'t> {
    /// A change in `txn`, with the tables the batch has already opened.
    fn new(txn: &'t redb::WriteTransaction, tables: Vec<(Table, WriteTable<'t>)>) -> Tx<'t> {
        Tx {
            txn,
            tables,
            staged: Vec::new(),
            dirty: false,
            error: None,
            _not_send: PhantomData,
        }
    }

    fn table(&mut self, table: Table) -> Result<&mut WriteTable<'t>, StoreError> {
        if let Some(at) = self.tables.iter().position(|(t, _)| *t == table) {
            return Ok(&mut self.tables[at].1);
        }
        let opened = self
            .txn
            .open_table(table.definition())
            .map_err(|e| StoreError::any(e, &format!("opening table {}", table.name())))?;
        self.tables.push((table, opened));
        let last = self.tables.len() - 1;
        Ok(&mut self.tables[last].1)
    }

    /// This change's staged writes to `table`, if it made any.
    fn staged(&self, table: Table) -> Option<&Staged> {
        self.staged
            .iter()
            .find(|(t, _)| *t == table)
            .map(|(_, staged)| staged)
    }

    fn staged_mut(&mut self, table: Table) -> &mut Staged {
        let at = match self.staged.iter().position(|(t, _)| *t == table) {
            Some(at) => at,
            None => {
                self.staged.push((table, Staged::default()));
                self.staged.len() - 1
            }
        };
        &mut self.staged[at].1
    }

    /// Remembers a storage error so the change is rolled back even if the caller ignores it.
    fn failed(&mut self, error: StoreError) -> StoreError {
        if self.error.is_none() {
            self.error = Some(error.clone());
        }
        error
    }

    /// Counts the change as a write even if it wrote nothing (a probe).
    fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// `key` as the batch's transaction holds it, without this change's staged writes.
    fn committed_get(&mut self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let result = self.table(table).and_then(|opened| {
            opened
                .get(key)
                .map(|v| v.map(|v| v.value().to_vec()))
                .map_err(|e| StoreError::from_storage(&e, &format!("reading {}", table.name())))
        });
        result.map_err(|e| self.failed(e))
    }

    /// Stores `value` under `key`; returns the value it replaced.
    pub fn insert(
        &mut self,
        table: Table,
        key: &[u8],
        value: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let old = self.get(table, key)?;
        self.dirty = true;
        self.staged_mut(table)
            .entries
            .insert(key.to_vec(), Some(value.to_vec()));
        Ok(old)
    }

    /// Stores `record` under `key`.
    pub fn put<R: Record>(
        &mut self,
        table: Table,
        key: &[u8],
        record: &R,
    ) -> Result<(), StoreError> {
        let bytes = encode(record).map_err(|e| self.failed(e))?;
        // Nobody asks for the record replaced: it is not read (a license's record can be large).
        self.dirty = true;
        self.staged_mut(table)
            .entries
            .insert(key.to_vec(), Some(bytes));
        Ok(())
    }

    /// Stores every record of `records`, each replacing any under its key, without reading what they
    /// replace: a state import fills the tables it emptied with it. Given to a table this change emptied
    /// and has not written since, the records are staged as they are (ranges of the uploaded document),
    /// not copied; otherwise each is staged as [`Tx::insert`] would.
    pub fn put_all(&mut self, table: Table, records: Records) {
        if records.is_empty() {
            return;
        }
        self.dirty = true;
        let staged = self.staged_mut(table);
        if staged.cleared && staged.given.is_none() && staged.entries.is_empty() {
            staged.given = Some(records.sorted());
            return;
        }
        for (key, value) in &records {
            staged.entries.insert(key.to_vec(), Some(value.to_vec()));
        }
    }

    /// Removes `key`; returns the value it held.
    pub fn remove(&mut self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let old = self.get(table, key)?;
        if old.is_some() {
            self.dirty = true;
            self.staged_mut(table).entries.insert(key.to_vec(), None);
        }
        Ok(old)
    }

    /// Empties `table`; how many records went.
    pub fn clear(&mut self, table: Table) -> Result<u64, StoreError> {
        let count = self.count(table)?;
        let staged = self.staged_mut(table);
        staged.cleared = true;
        staged.given = None;
        staged.entries.clear();
        self.dirty |= count > 0;
        Ok(count)
    }

    /// Empties every table of the schema; how many records went.
    pub fn clear_all(&mut self, schema: &Schema) -> Result<u64, StoreError> {
        let mut removed = 0;
        for table in schema.tables {
            removed += self.clear(*table)?;
        }
        Ok(removed)
    }

    /// Empties `table` in the batch's transaction by deleting it (it is created again, empty, when next
    /// opened): redb frees the table's pages in one walk of its tree, where removing every record would
    /// rewrite every leaf.
    fn delete(&mut self, table: Table) -> Result<(), StoreError> {
        let deleted = match self.tables.iter().position(|(t, _)| *t == table) {
            // An open table is handed over: redb refuses to delete a table that is open.
            Some(at) => self.txn.delete_table(self.tables.swap_remove(at).1),
            None => self.txn.delete_table(table.definition()),
        };
        deleted
            .map(drop)
            .map_err(|e| StoreError::any(e, &format!("emptying {}", table.name())))
    }

    /// Writes the change's staged writes into the batch's transaction: the change is kept. Whether it
    /// wrote anything.
    fn apply(&mut self) -> Result<bool, StoreError> {
        let mut wrote = false;
        for (table, staged) in std::mem::take(&mut self.staged) {
            wrote |= staged.cleared || staged.given.is_some() || !staged.entries.is_empty();
            let what = format!("writing {}", table.name());
            if staged.cleared {
                self.delete(table)?;
            }
            let opened = self.table(table)?;
            // The given records first, in key order; the single writes after them win.
            for (key, value) in staged.given.iter().flat_map(|given| given.iter()) {
                opened
                    .insert(key, value)
                    .map_err(|e| StoreError::from_storage(&e, &what))?;
            }
            for (key, value) in staged.entries {
                match value {
                    Some(value) => opened.insert(key.as_slice(), value.as_slice()).map(drop),
                    None => opened.remove(key.as_slice()).map(drop),
                }
                .map_err(|e| StoreError::from_storage(&e, &what))?;
            }
        }
        Ok(wrote)
    }
}

impl Reader for Tx<'_> {
    fn get(&mut self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(staged) = self.staged(table) {
            if let Some(value) = staged.get(key) {
                return Ok(value.map(<[u8]>::to_vec));
            }
            if staged.cleared {
                return Ok(None);
            }
        }
        self.committed_get(table, key)
    }

    fn scan(
        &mut self,
        table: Table,
        prefix: &[u8],
        order: Order,
        limit: Option<usize>,
    ) -> Result<Vec<Entry>, StoreError> {
        let (cleared, staged): (bool, Vec<StagedEntry>) = match self.staged(table) {
            Some(staged) => (
                staged.cleared,
                staged
                    .all()
                    .into_iter()
                    .filter(|(key, _)| key.starts_with(prefix))
                    .map(|(key, value)| (key.to_vec(), value.map(<[u8]>::to_vec)))
                    .collect(),
            ),
            None => (false, Vec::new()),
        };
        let committed = if cleared {
            Vec::new()
        } else {
            // Every staged removal may hide one committed entry: read that many more.
            let wider = limit.map(|limit| limit.saturating_add(staged.len()));
            let what = format!("reading {}", table.name());
            let result = self
                .table(table)
                .and_then(|opened| scan_table(&*opened, prefix, order, wider, &what));
            result.map_err(|e| self.failed(e))?
        };
        if staged.is_empty() {
            return Ok(committed);
        }
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = committed.into_iter().collect();
        for (key, value) in staged {
            match value {
                Some(value) => merged.insert(key, value),
                None => merged.remove(&key),
            };
        }
        let limit = limit.unwrap_or(usize::MAX);
        Ok(match order {
            Order::Ascending => merged.into_iter().take(limit).collect(),
            Order::Descending => merged.into_iter().rev().take(limit).collect(),
        })
    }

    fn count(&mut self, table: Table) -> Result<u64, StoreError> {
        let (cleared, staged): (bool, Vec<(Vec<u8>, bool)>) = match self.staged(table) {
            Some(staged) => (
                staged.cleared,
                staged
                    .all()
                    .into_iter()
                    .map(|(key, value)| (key.to_vec(), value.is_some()))
                    .collect(),
            ),
            None => (false, Vec::new()),
        };
        let mut count = if cleared {
            0
        } else {
            let result = self.table(table).and_then(|opened| {
                opened.len().map_err(|e| {
                    StoreError::from_storage(&e, &format!("counting {}", table.name()))
                })
            });
            result.map_err(|e| self.failed(e))?
        };
        for (key, present) in staged {
            let was = !cleared && self.committed_get(table, &key)?.is_some();
            match (was, present) {
                (false, true) => count += 1,
                (true, false) => count = count.saturating_sub(1),
                _ => {}
            }
        }
        Ok(count)
    }
}

/// Runs a store's opening (its integrity check reads the whole file and commits) on a blocking thread, so
/// services of one process open their stores side by side without holding up the async workers.
pub async fn open_blocking<T, E>(
    open: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> anyhow::Result<T>
where
    T: Send + 'static,
    E: Into<anyhow::Error> + Send + 'static,
{
    tokio::task::spawn_blocking(open)
        .await
        .map_err(|e| anyhow::anyhow!("opening a store: {e}"))?
        .map_err(Into::into)
}

/// The 32-byte secret `store`'s service keeps in `<file>` beside its database file (hex, mode 0600), from
/// which it derives its at-rest keys; a fresh random one each time for a store in memory.
///
/// The database remembers which key it was first opened with (a fingerprint in its marker table, which a
/// reset leaves alone), so a key file that was deleted or replaced refuses the start naming the file,
/// rather than a new key being made and every secret sealed with the old one answering 500 later. The key
/// is created only for a database that has never had one (written and synced before it is used, then its
/// fingerprint committed). A file that does not hold exactly 32 bytes of hex refuses the start too.
pub fn data_secret(store: &Store, file: &str) -> anyhow::Result<Vec<u8>> {
    use rand::RngCore;
    let Some(database_file) = store.file() else {
        let mut secret = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        return Ok(secret);
    };
    let dir = database_file.parent().unwrap_or(Path::new("."));
    let path = dir.join(file);
    let remembered = store.marker(&key_marker(file)).with_context(|| {
        format!(
            "reading which key {} was sealed with",
            database_file.display()
        )
    })?;
    let secret = match std::fs::read_to_string(&path) {
        Ok(text) => {
            let secret = hex::decode(text.trim()).ok().filter(|s| s.len() == 32);
            secret.with_context(|| {
                format!(
                    "the key file {} does not hold a 32-byte key in hex ({} characters): restore it from a \
                     backup; without it the secrets sealed in this data dir cannot be opened",
                    path.display(),
                    text.trim().len()
                )
            })?
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(fingerprint) = remembered {
                anyhow::bail!(
                    "the key file {} is missing, but {} holds secrets sealed with it (key fingerprint \
                     {fingerprint}): it was deleted or moved. Restore it from a backup (or put it back); \
                     without it those secrets cannot be opened. To start this service empty instead, move \
                     {} aside as well",
                    path.display(),
                    database_file.display(),
                    database_file.display()
                );
            }
            let mut secret = vec![0u8; 32];
            rand::thread_rng().fill_bytes(&mut secret);
            write_private(&path, hex::encode(&secret).as_bytes())?;
            secret
        }
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context(format!("reading the key file {}", path.display()))
            );
        }
    };
    let fingerprint = key_fingerprint(&secret);
    match remembered {
        Some(remembered) if remembered == fingerprint => {}
        Some(remembered) => anyhow::bail!(
            "the key file {} is not the key {} was sealed with (its fingerprint is {fingerprint}, the \
             database's {remembered}): it was replaced. Put the original back from a backup; with this one \
             the secrets sealed in this data dir cannot be opened",
            path.display(),
            database_file.display()
        ),
        None => store
            .set_marker(&key_marker(file), &fingerprint)
            .with_context(|| {
                format!(
                    "recording the key's fingerprint in {}",
                    database_file.display()
                )
            })?,
    }
    Ok(secret)
}

/// The marker entry holding the fingerprint of key file `file`.
fn key_marker(file: &str) -> String {
    format!("key:{file}")
}

/// A key's fingerprint: enough to tell two keys apart, nothing that helps find either.
fn key_fingerprint(secret: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(b"fortimock key fingerprint\0")
        .chain_update(secret)
        .finalize();
    hex::encode(&digest[..8])
}

/// Writes `contents` to `path` with mode 0600, atomically and durably: a temporary file, synced, renamed,
/// and the directory synced.
pub fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        file.write_all(contents)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing {}", dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Table = Table::new("a");
    const B: Table = Table::new("b");
    const SCHEMA: Schema = Schema {
        service: "test",
        tables: &[A, B],
    };
    static SCHEMA_REF: Schema = SCHEMA;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Thing {
        v: Version<2>,
        name: String,
    }

    impl Record for Thing {
        const KIND: &'static str = "a thing record";
    }

    fn thing(name: &str) -> Thing {
        Thing {
            v: Version,
            name: name.to_owned(),
        }
    }

    #[tokio::test]
    async fn writes_are_read_back_and_refusals_keep_nothing() {
        let store = Store::open(None, &SCHEMA_REF).unwrap();
        store
            .write(|tx| {
                tx.put(A, b"k1", &thing("one"))?;
                tx.insert(B, b"x", b"y")?;
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        let refused = store
            .write(|tx| {
                tx.put(A, b"k2", &thing("two"))?;
                Err::<(), _>(StoreError::internal("refused"))
            })
            .await;
        assert!(refused.is_err());
        let (one, two, count) = store
            .read(|r| {
                Ok((
                    r.record::<Thing>(A, b"k1")?,
                    r.record::<Thing>(A, b"k2")?,
                    r.count(A)?,
                ))
            })
            .unwrap();
        assert_eq!(one, Some(thing("one")));
        assert_eq!(two, None);
        assert_eq!(count, 1);
        assert_eq!(store.clear().await.unwrap(), 2);
        assert_eq!(store.read(|r| r.count(B)).unwrap(), 0);
    }

    /// A read under `read_cached` reuses a record decoded in the same committed state without reading it
    /// (or beginning a transaction), sees every commit made before it began, and runs again when a commit
    /// happens while it runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cached_reads_see_every_commit_and_rerun_when_one_overlaps() {
        let store = Arc::new(Store::open(None, &SCHEMA_REF).unwrap());
        let put = |name: &'static str| {
            let store = store.clone();
            async move {
                store
                    .write(move |tx| tx.put(A, b"k", &thing(name)))
                    .await
                    .unwrap();
            }
        };
        put("one").await;
        let records = DecodedRecords::<Thing>::new(16);
        let decodes = AtomicUsize::new(0);
        let counted = |bytes: &[u8]| {
            decodes.fetch_add(1, Ordering::SeqCst);
            decode::<Thing>(bytes)
        };
        let read = || {
            store
                .read_cached(|r| records.get(r, A, b"k", counted))
                .unwrap()
                .map(|t| t.name.clone())
        };
        assert_eq!(read().as_deref(), Some("one"));
        assert_eq!(read().as_deref(), Some("one"));
        assert_eq!(
            decodes.load(Ordering::SeqCst),
            1,
            "the same state is not decoded again"
        );
        let begun = store
            .read_cached(|r| {
                records.get(r, A, b"k", counted)?;
                Ok(r.txn.is_some())
            })
            .unwrap();
        assert!(
            !begun,
            "a read answered from decoded records begins no transaction"
        );
        put("two").await;
        assert_eq!(
            read().as_deref(),
            Some("two"),
            "a commit before the read is seen"
        );
        assert_eq!(decodes.load(Ordering::SeqCst), 2);

        // A commit while the read runs: its first run saw "two"; it runs again and answers "three".
        let runs = AtomicUsize::new(0);
        let handle = tokio::runtime::Handle::current();
        let seen = tokio::task::block_in_place(|| {
            store
                .read_cached(|r| {
                    let seen = records.get(r, A, b"k", |bytes| decode::<Thing>(bytes))?;
                    if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                        handle.block_on(put("three"));
                    }
                    Ok(seen.map(|t| t.name.clone()))
                })
                .unwrap()
        });
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(seen.as_deref(), Some("three"));
        assert_eq!(read().as_deref(), Some("three"));
    }

    #[test]
    fn versions_are_checked() {
        let bytes = encode(&thing("x")).unwrap();
        assert_eq!(bytes, br#"{"v":2,"name":"x"}"#);
        let error = decode::<Thing>(br#"{"v":3,"name":"x"}"#).unwrap_err();
        assert!(error.to_string().contains("record version 3"), "{error}");
        assert!(decode::<Thing>(br#"{"name":"x"}"#).is_err());
    }

    #[tokio::test]
    async fn scans_follow_prefixes_and_order() {
        let store = Store::open(None, &SCHEMA_REF).unwrap();
        store
            .write(|tx| {
                for key in ["a\0x", "a\0y", "ab", "b\0z", "a\u{ff}"] {
                    tx.insert(A, key.as_bytes(), b"")?;
                }
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        let keys = |entries: Vec<Entry>| -> Vec<String> {
            entries
                .into_iter()
                .map(|(k, _)| String::from_utf8(k).unwrap())
                .collect()
        };
        let scanned = store
            .read(|r| r.scan(A, b"a\0", Order::Descending, None))
            .unwrap();
        assert_eq!(keys(scanned), ["a\0y", "a\0x"]);
        let first = store
            .read(|r| r.scan(A, b"", Order::Ascending, Some(2)))
            .unwrap();
        assert_eq!(keys(first), ["a\0x", "a\0y"]);
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff]), None);
    }

    /// Starts a change (writing `first`) that holds the writer thread until `release` is sent, and waits
    /// until it runs: changes made meanwhile queue up into one batch.
    async fn hold_the_writer(
        store: &Store,
    ) -> (
        mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<(), StoreError>>,
    ) {
        let (release, held) = mpsc::channel::<()>();
        let (running, started) = tokio::sync::oneshot::channel::<()>();
        let first = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .write(move |tx| {
                        let _ = running.send(());
                        let _ = held.recv();
                        tx.insert(A, b"first", b"x").map(drop)
                    })
                    .await
            })
        };
        started.await.unwrap();
        (release, first)
    }

    /// Queues `change` behind the changes already queued (behind [`hold_the_writer`]'s, they make one batch)
    /// and returns once it is queued.
    async fn queue<T: Send + 'static>(
        store: &Store,
        change: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> tokio::task::JoinHandle<Result<T, StoreError>> {
        let before = store.shared.queued();
        let queued = {
            let store = store.clone();
            tokio::spawn(async move { store.write(change).await })
        };
        while store.shared.queued() <= before {
            tokio::task::yield_now().await;
        }
        queued
    }

    #[tokio::test]
    async fn a_change_reads_its_own_staged_writes() {
        let store = Store::open(None, &SCHEMA_REF).unwrap();
        store
            .write(|tx| {
                for key in ["k1", "k2", "k3", "k4"] {
                    tx.insert(A, key.as_bytes(), b"old")?;
                }
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        let seen = store
            .write(|tx| {
                let replaced = tx.insert(A, b"k2", b"new")?;
                let removed = tx.remove(A, b"k1")?;
                let absent = tx.remove(A, b"nothing")?;
                tx.insert(A, b"k0", b"new")?;
                let first_two = tx.scan(A, b"k", Order::Ascending, Some(2))?;
                let last_two = tx.scan(A, b"k", Order::Descending, Some(2))?;
                let count = tx.count(A)?;
                let cleared = tx.clear(B)?;
                tx.insert(B, b"b", b"1")?;
                let in_b = (tx.count(B)?, tx.get(B, b"b")?);
                Ok::<_, StoreError>((
                    replaced, removed, absent, first_two, last_two, count, cleared, in_b,
                ))
            })
            .await
            .unwrap();
        let entry = |k: &str, v: &str| (k.as_bytes().to_vec(), v.as_bytes().to_vec());
        assert_eq!(seen.0.as_deref(), Some(&b"old"[..]));
        assert_eq!(seen.1.as_deref(), Some(&b"old"[..]));
        assert_eq!(seen.2, None);
        assert_eq!(seen.3, [entry("k0", "new"), entry("k2", "new")]);
        assert_eq!(seen.4, [entry("k4", "old"), entry("k3", "old")]);
        assert_eq!(seen.5, 4);
        assert_eq!(seen.6, 0);
        assert_eq!(seen.7, (1, Some(b"1".to_vec())));
        let stored = store
            .read(|r| r.scan(A, b"", Order::Ascending, None))
            .unwrap();
        assert_eq!(
            stored,
            [
                entry("k0", "new"),
                entry("k2", "new"),
                entry("k3", "old"),
                entry("k4", "old")
            ]
        );
    }

    /// Emptying a table deletes it in the batch's transaction; filling it again in the same change
    /// (`put_all`, what a state import does) keeps exactly the new records, across a reopen, and a change
    /// that empties and fails leaves every record as it was.
    #[tokio::test]
    async fn a_table_emptied_and_filled_again_holds_only_the_new_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(Some(dir.path()), &SCHEMA_REF).unwrap();
        fn records(prefix: &str, n: usize) -> Vec<Entry> {
            (0..n)
                .map(|i| (format!("{prefix}{i:05}").into_bytes(), vec![b'v'; 100]))
                .collect()
        }
        // Enough records for a tree of several pages.
        let old = records("old", 2_000);
        let kept = old.clone();
        store
            .write(move |tx| {
                // Into a table not emptied first: staged one by one.
                tx.put_all(A, given(&old));
                tx.insert(B, b"b", b"1")?;
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        let refused = store
            .write(|tx| {
                tx.clear(A)?;
                tx.put_all(A, given(&records("new", 3)));
                Err::<(), _>(StoreError::internal("refused"))
            })
            .await;
        assert!(refused.is_err());
        let all = |store: &Store, table| store.read(|r| r.all(table)).unwrap();
        assert_eq!(all(&store, A), kept);
        let replaced = store
            .write(|tx| {
                let replaced = tx.clear(A)?;
                tx.put_all(A, given(&records("new", 3)));
                Ok::<_, StoreError>((replaced, tx.count(A)?, tx.get(A, b"old00000")?))
            })
            .await
            .unwrap();
        assert_eq!(replaced, (2_000, 3, None));
        assert_eq!(all(&store, A), records("new", 3));
        assert_eq!(all(&store, B).len(), 1, "another table is untouched");
        drop(store);
        let again = Store::open(Some(dir.path()), &SCHEMA_REF).unwrap();
        assert_eq!(all(&again, A), records("new", 3));
        // A table emptied by a reset is there to read and write, empty.
        assert_eq!(again.clear().await.unwrap(), 4);
        assert_eq!(all(&again, A), []);
        again
            .write(|tx| tx.insert(A, b"k", b"v").map(drop))
            .await
            .unwrap();
        assert_eq!(all(&again, A).len(), 1);
    }

    /// `entries` as records given whole, their bytes copied from elsewhere (no document).
    fn given(entries: &[Entry]) -> Records {
        let mut records = Records::new(bytes::Bytes::new());
        for (key, value) in entries {
            records
                .push(key.as_slice().into(), value.as_slice().into())
                .unwrap();
        }
        records
    }

    /// Records given to an emptied table read, within the change and once committed, exactly as the same
    /// records stored one by one would: out of order and with a key given twice, under the change's own
    /// later writes and removals.
    #[tokio::test]
    async fn records_given_to_an_emptied_table_read_as_if_stored_one_by_one() {
        let store = Store::open(None, &SCHEMA_REF).unwrap();
        store
            .write(|tx| tx.insert(A, b"k0", b"committed").map(drop))
            .await
            .unwrap();
        let document = bytes::Bytes::from_static(b"k3 v3 k1 v1 k3 v9 k2 v2");
        let mut records = Records::new(document.clone());
        for at in (0..document.len()).step_by(6) {
            let (key, value) = (&document[at..at + 2], &document[at + 3..at + 5]);
            records.push(key.into(), value.into()).unwrap();
        }
        let within = store
            .write(move |tx| {
                tx.clear(A)?;
                tx.put_all(A, records);
                tx.insert(A, b"k2", b"written")?;
                tx.remove(A, b"k1")?;
                tx.insert(A, b"k4", b"v4")?;
                let read = (
                    tx.get(A, b"k0")?,
                    tx.get(A, b"k1")?,
                    tx.get(A, b"k3")?,
                    tx.count(A)?,
                    tx.scan(A, b"k", Order::Descending, Some(2))?,
                );
                Ok::<_, StoreError>(read)
            })
            .await
            .unwrap();
        let entry = |k: &str, v: &str| (k.as_bytes().to_vec(), v.as_bytes().to_vec());
        assert_eq!(
            within,
            (
                None,
                None,
                Some(b"v9".to_vec()),
                3,
                vec![entry("k4", "v4"), entry("k3", "v9")]
            )
        );
        assert_eq!(
            store.read(|r| r.all(A)).unwrap(),
            vec![entry("k2", "written"), entry("k3", "v9"), entry("k4", "v4")]
        );
    }

    #[tokio::test]
    async fn changes_of_one_batch_see_the_kept_ones_before_them_and_a_failed_one_rolls_back_alone()
    {
        let disk = SimulatedDisk::new();
        let store = Store::open_simulated(&disk, &SCHEMA_REF).unwrap();
        // The first change holds the writer until the others are queued behind it: they are one batch.
        let (release, first) = hold_the_writer(&store).await;
        let kept = queue(&store, |tx| tx.insert(A, b"kept", b"1").map(drop)).await;
        let failed = queue(&store, |tx| {
            tx.insert(A, b"failed", b"1")?;
            Err::<(), _>(StoreError::internal("refused"))
        })
        .await;
        let panicked = queue::<()>(&store, |tx| {
            tx.insert(A, b"panicked", b"1")?;
            panic!("a bug inside a change");
        })
        .await;
        let reader = queue(&store, |tx| {
            ["first", "kept", "failed", "panicked"]
                .iter()
                .map(|key| tx.get(A, key.as_bytes()).map(|v| v.is_some()))
                .collect::<Result<Vec<bool>, StoreError>>()
        })
        .await;
        let syncs = disk.syncs();
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        kept.await.unwrap().unwrap();
        assert!(failed.await.unwrap().is_err());
        assert!(panicked.await.unwrap().is_err());
        assert_eq!(reader.await.unwrap().unwrap(), [true, true, false, false]);
        assert!(disk.syncs() - syncs <= 2, "one batch, one durable commit");
        let stored = store
            .read(|r| r.scan(A, b"", Order::Ascending, None))
            .unwrap();
        let keys: Vec<&[u8]> = stored.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(keys, [&b"first"[..], b"kept"]);
    }

    /// The changes of one batch share the tables they open: a table a change empties after an earlier
    /// change of the batch opened it is emptied, and the changes after see what it holds then.
    #[tokio::test]
    async fn a_table_opened_by_one_change_of_a_batch_is_emptied_by_the_next() {
        let disk = SimulatedDisk::new();
        let store = Store::open_simulated(&disk, &SCHEMA_REF).unwrap();
        let (release, first) = hold_the_writer(&store).await;
        let filled = queue(&store, |tx| {
            tx.insert(A, b"a", b"1")?;
            tx.insert(A, b"b", b"1")?;
            tx.count(A)
        })
        .await;
        let emptied = queue(&store, |tx| {
            let removed = tx.clear(A)?;
            tx.insert(A, b"c", b"2")?;
            Ok((removed, tx.count(A)?))
        })
        .await;
        let reader = queue(&store, |tx| {
            let held = ["first", "a", "b", "c"]
                .iter()
                .map(|key| tx.get(A, key.as_bytes()).map(|v| v.is_some()))
                .collect::<Result<Vec<bool>, StoreError>>()?;
            Ok((held, tx.count(A)?))
        })
        .await;
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        // "first" (the held change's record) and the two new ones.
        assert_eq!(filled.await.unwrap().unwrap(), 3);
        assert_eq!(emptied.await.unwrap().unwrap(), (3, 1));
        assert_eq!(
            reader.await.unwrap().unwrap(),
            (vec![false, false, false, true], 1)
        );
        let stored = store
            .read(|r| r.scan(A, b"", Order::Ascending, None))
            .unwrap();
        assert_eq!(stored, [(b"c".to_vec(), b"2".to_vec())]);
    }

    #[tokio::test]
    async fn concurrent_changes_are_serialized_and_all_durable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(Some(dir.path()), &SCHEMA_REF).unwrap();
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .write(|tx| {
                        let n = tx
                            .get(A, b"counter")?
                            .map_or(0, |v| u64::from_be_bytes(v.try_into().unwrap()));
                        tx.insert(A, b"counter", &(n + 1).to_be_bytes())?;
                        Ok::<_, StoreError>(n + 1)
                    })
                    .await
                    .unwrap()
            }));
        }
        let mut seen = Vec::new();
        for task in tasks {
            seen.push(task.await.unwrap());
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=64).collect::<Vec<u64>>());
        drop(store);
        let again = Store::open(Some(dir.path()), &SCHEMA_REF).unwrap();
        let counter = again.read(|r| r.get(A, b"counter")).unwrap().unwrap();
        assert_eq!(u64::from_be_bytes(counter.try_into().unwrap()), 64);
    }

    #[test]
    fn a_second_open_is_refused_as_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(Some(dir.path()), &SCHEMA_REF).unwrap();
        let second = Store::open(Some(dir.path()), &SCHEMA_REF).err().unwrap();
        assert!(matches!(second, OpenError::Locked(_)), "{second}");
        assert!(second.to_string().contains("in use by another process"));
    }

    #[test]
    fn a_sled_data_dir_is_recognised() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("db")).unwrap();
        std::fs::write(dir.path().join("db/conf"), b"segment_size: 524288").unwrap();
        let error = Store::open(Some(dir.path()), &SCHEMA_REF).err().unwrap();
        assert!(matches!(error, OpenError::Legacy(_)), "{error}");
        assert!(error.to_string().contains("state export"), "{error}");
    }

    #[test]
    fn another_services_database_is_refused() {
        static OTHER: Schema = Schema {
            service: "other",
            tables: &[A],
        };
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(Some(dir.path()), &SCHEMA_REF).unwrap());
        let error = Store::open(Some(dir.path()), &OTHER).err().unwrap();
        assert!(matches!(error, OpenError::WrongService { .. }), "{error}");
    }

    #[tokio::test]
    async fn damaged_files_refuse_to_open_naming_the_file() {
        for damage in ["empty", "truncate", "flip-start", "flip-middle"] {
            let dir = tempfile::tempdir().unwrap();
            {
                let store = Store::open(Some(dir.path()), &SCHEMA_REF).unwrap();
                for i in 0u32..200 {
                    store
                        .write(move |tx| {
                            tx.insert(A, &i.to_be_bytes(), &[7u8; 300])?;
                            Ok::<_, StoreError>(())
                        })
                        .await
                        .unwrap();
                }
            }
            let file = dir.path().join(DATABASE_FILE);
            let mut bytes = std::fs::read(&file).unwrap();
            match damage {
                "empty" => bytes.clear(),
                "truncate" => bytes.truncate(bytes.len() / 2),
                "flip-start" => bytes[..64].iter_mut().for_each(|b| *b ^= 0x5a),
                _ => {
                    let middle = bytes.len() / 2;
                    bytes[middle..middle + 64]
                        .iter_mut()
                        .for_each(|b| *b ^= 0x5a);
                }
            }
            std::fs::write(&file, &bytes).unwrap();
            if damage == "empty" {
                // Nothing to read records from: it must refuse, and leave the file as it is.
                let error = Store::open(Some(dir.path()), &SCHEMA_REF).err().unwrap();
                assert!(matches!(error, OpenError::Corrupt { .. }), "{error}");
                assert!(
                    error.to_string().contains(&file.display().to_string()),
                    "{error}"
                );
                assert!(error.to_string().contains("empty"), "{error}");
                assert_eq!(std::fs::metadata(&file).unwrap().len(), 0);
                continue;
            }
            match Store::open(Some(dir.path()), &SCHEMA_REF) {
                Err(error) => assert!(
                    error.to_string().contains(&file.display().to_string()),
                    "{damage}: {error}"
                ),
                Ok(store) => {
                    // A damaged page nothing points at any more is no loss: every record must read.
                    let all = store.read(|r| r.all(A)).unwrap();
                    assert_eq!(all.len(), 200, "{damage}: records went missing silently");
                }
            }
        }
    }

    #[test]
    fn key_files_of_the_wrong_shape_refuse_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(Some(dir.path()), &SCHEMA_REF).unwrap();
        let key = data_secret(&store, "seal.key").unwrap();
        assert_eq!(key.len(), 32);
        assert_eq!(data_secret(&store, "seal.key").unwrap(), key);
        std::fs::write(dir.path().join("seal.key"), "abcd").unwrap();
        let error = data_secret(&store, "seal.key").unwrap_err();
        assert!(
            error.to_string().contains("does not hold a 32-byte key"),
            "{error}"
        );
    }

    #[test]
    fn a_deleted_or_replaced_key_file_refuses_the_start_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("escrow.key");
        let key = {
            let store = Store::open(Some(dir.path()), &SCHEMA_REF).unwrap();
            data_secret(&store, "escrow.key").unwrap()
        };
        let original = std::fs::read(&path).unwrap();

        // Deleted: refused, naming the file and saying what happened; no new key is written.
        std::fs::remove_file(&path).unwrap();
        let store = Store::open(Some(dir.path()), &SCHEMA_REF).unwrap();
        let message = format!("{:#}", data_secret(&store, "escrow.key").unwrap_err());
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("is missing"), "{message}");
        assert!(!path.exists(), "a new key was written");
        drop(store);

        // Replaced by another key: refused too, and the file is left as it is.
        let other = hex::encode([9u8; 32]);
        std::fs::write(&path, &other).unwrap();
        let store = Store::open(Some(dir.path()), &SCHEMA_REF).unwrap();
        let message = format!("{:#}", data_secret(&store, "escrow.key").unwrap_err());
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("was replaced"), "{message}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), other);
        drop(store);

        // The original back: accepted (the database still remembers it), the same key; other key files of
        // the store are independent.
        std::fs::write(&path, &original).unwrap();
        let store = Store::open(Some(dir.path()), &SCHEMA_REF).unwrap();
        assert_eq!(data_secret(&store, "escrow.key").unwrap(), key);
        assert_ne!(data_secret(&store, "hardware.key").unwrap(), key);
    }

    /// Writes keys `0..n` one change each on `disk`; returns the keys acknowledged.
    async fn write_until_failure(store: &Store, n: u32) -> Vec<u32> {
        let mut acked = Vec::new();
        for i in 0..n {
            let written = store
                .write(move |tx| {
                    tx.put(A, &i.to_be_bytes(), &thing(&format!("record {i}")))?;
                    tx.insert(B, b"last", &i.to_be_bytes())?;
                    Ok::<_, StoreError>(())
                })
                .await;
            match written {
                Ok(()) => acked.push(i),
                Err(_) => break,
            }
        }
        acked
    }

    /// Reopens `image` (it must open) and checks every acknowledged key is there, whole.
    fn check_image(image: Vec<u8>, acked: &[u32], what: &str) {
        let store = Store::open_simulated(&SimulatedDisk::from_image(image), &SCHEMA_REF)
            .unwrap_or_else(|e| panic!("{what}: the database did not open again: {e}"));
        let records = store.read(|r| r.all(A)).unwrap();
        for i in acked {
            let bytes = store
                .read(|r| r.get(A, &i.to_be_bytes()))
                .unwrap()
                .unwrap_or_else(|| panic!("{what}: acknowledged write {i} was lost"));
            assert_eq!(
                decode::<Thing>(&bytes).unwrap(),
                thing(&format!("record {i}"))
            );
        }
        for (key, value) in &records {
            assert!(
                decode::<Thing>(value).is_ok(),
                "{what}: a torn record under {key:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_kill_or_power_cut_at_any_write_loses_nothing_acknowledged_and_always_reopens() {
        // Every mutating disk operation of opening a new database and making ten changes, in turn, is
        // the one the process dies at; the power cut keeps none, some, or all of what was not synced, the
        // last write torn in half.
        let total = {
            let disk = SimulatedDisk::new();
            let store = Store::open_simulated(&disk, &SCHEMA_REF).unwrap();
            assert_eq!(write_until_failure(&store, 10).await.len(), 10);
            drop(store);
            let probe = SimulatedDisk::new();
            probe.crash_after(usize::MAX);
            let store = Store::open_simulated(&probe, &SCHEMA_REF).unwrap();
            write_until_failure(&store, 10).await;
            drop(store);
            usize::MAX - probe.state().ops_left.unwrap_or(usize::MAX)
        };
        assert!(total > 20, "only {total} disk operations");
        for crash_at in 0..=total {
            let disk = SimulatedDisk::new();
            disk.crash_after(crash_at);
            let acked = match Store::open_simulated(&disk, &SCHEMA_REF) {
                Ok(store) => write_until_failure(&store, 10).await,
                Err(_) => Vec::new(),
            };
            check_image(
                disk.process_crash_image(),
                &acked,
                &format!("kill at {crash_at}"),
            );
            let unsynced = disk.unsynced();
            for kept in [0, unsynced / 2, unsynced] {
                for torn in [false, true] {
                    let what =
                        format!("power cut at {crash_at} keeping {kept}/{unsynced} (torn: {torn})");
                    check_image(disk.power_loss_image(kept, torn), &acked, &what);
                }
            }
        }
    }

    #[tokio::test]
    async fn every_acknowledged_change_was_synced_before_it_was_answered() {
        let disk = SimulatedDisk::new();
        let store = Store::open_simulated(&disk, &SCHEMA_REF).unwrap();
        for i in 0u32..20 {
            store
                .write(move |tx| tx.insert(A, &i.to_be_bytes(), b"x").map(drop))
                .await
                .unwrap();
            // Answered: a power cut now keeps it even if nothing unsynced survives.
            assert_eq!(
                disk.unsynced(),
                0,
                "change {i} was answered before its sync"
            );
            let image = disk.power_loss_image(0, false);
            let reopened =
                Store::open_simulated(&SimulatedDisk::from_image(image), &SCHEMA_REF).unwrap();
            assert_eq!(reopened.read(|r| r.count(A)).unwrap(), u64::from(i) + 1);
        }
    }

    #[tokio::test]
    async fn a_full_disk_fails_writes_clearly_and_the_store_recovers_when_space_returns() {
        let disk = SimulatedDisk::new();
        let store = Store::open_simulated(&disk, &SCHEMA_REF).unwrap();
        assert_eq!(write_until_failure(&store, 3).await, [0, 1, 2]);
        disk.fail_writes(Some(io::ErrorKind::StorageFull));
        let error = store
            .write(|tx| tx.insert(A, b"k", b"v").map(drop))
            .await
            .unwrap_err();
        assert_eq!(error.failure(), Failure::Full);
        assert!(error.is_unavailable());
        assert!(error.to_string().contains("disk is full"), "{error}");
        let not_ready = store.check_writable().await.unwrap_err();
        assert!(not_ready.to_string().contains("is full"), "{not_ready}");
        assert!(not_ready.is_unavailable());
        disk.fail_writes(None);
        store.check_writable().await.unwrap();
        // Nothing half-written shows, and nothing acknowledged went.
        assert_eq!(store.read(|r| r.count(A)).unwrap(), 3);
        store
            .write(|tx| tx.insert(A, b"k", b"v").map(drop))
            .await
            .unwrap();
        assert_eq!(store.read(|r| r.count(A)).unwrap(), 4);
    }

    #[tokio::test]
    async fn a_record_that_cannot_be_encoded_is_an_error_and_writes_nothing() {
        struct Unwritable;
        impl Serialize for Unwritable {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("this record cannot be written"))
            }
        }
        impl<'de> Deserialize<'de> for Unwritable {
            fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
                Ok(Unwritable)
            }
        }
        impl Record for Unwritable {
            const KIND: &'static str = "an unwritable record";
        }
        let store = Store::open(None, &SCHEMA_REF).unwrap();
        let error = store
            .write(|tx| {
                tx.insert(B, b"first", b"kept only if the whole change is")?;
                tx.put(A, b"k", &Unwritable)?;
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap_err();
        assert!(error.to_string().contains("cannot be written"), "{error}");
        assert_eq!(store.read(|r| r.count(B)).unwrap(), 0);
        assert_eq!(store.read(|r| r.count(A)).unwrap(), 0);
    }

    #[test]
    fn open_errors_name_what_happened() {
        let path = PathBuf::from("/data/ftm");
        let full = OpenError::from_io(path.clone(), &io::Error::from(io::ErrorKind::StorageFull));
        assert!(full.to_string().contains("is full"), "{full}");
        let denied = OpenError::from_io(
            path.clone(),
            &io::Error::from(io::ErrorKind::PermissionDenied),
        );
        assert!(denied.to_string().contains("permissions"), "{denied}");
        let corrupt = OpenError::from_storage(path, StorageError::Corrupted("bad checksum".into()));
        assert!(
            corrupt.to_string().contains("/data/ftm is corrupt"),
            "{corrupt}"
        );
        for error in [full, denied, corrupt] {
            assert!(!error.to_string().contains("another fortimock"), "{error}");
        }
    }

    #[tokio::test]
    async fn a_lone_change_costs_one_fsync_and_queued_changes_share_one() {
        let disk = SimulatedDisk::new();
        let store = Store::open_simulated(&disk, &SCHEMA_REF).unwrap();
        let before = disk.syncs();
        store
            .write(|tx| tx.insert(A, b"alone", b"x").map(drop))
            .await
            .unwrap();
        assert_eq!(disk.syncs() - before, 1);
        // The first change holds the writer until 63 more are queued behind it: they are one batch.
        let (release, first) = hold_the_writer(&store).await;
        let before = disk.syncs();
        let queued: Vec<_> = (0u32..63)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .write(move |tx| tx.insert(A, &i.to_be_bytes(), b"x").map(drop))
                        .await
                })
            })
            .collect();
        // Every change is queued once the writer has picked up the first: wait until they are.
        while store.shared.queued() < 63 {
            tokio::task::yield_now().await;
        }
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        for change in queued {
            change.await.unwrap().unwrap();
        }
        // One for the first change's batch; one for the 63 queued behind it (a durable redb commit may sync
        // its pages and then its header).
        let syncs = disk.syncs() - before;
        assert!(syncs <= 3, "64 changes took {syncs} fsyncs");
        assert_eq!(store.read(|r| r.count(A)).unwrap(), 65);
    }
}
