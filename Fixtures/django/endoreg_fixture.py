"""Builds endoreg-db fixture databases with Django's own `migrate`.

Run by make-endoreg-db.sh inside a venv that holds the pinned Django. Nothing
here imports endoreg-db's own code: the release's `endoreg_db/migrations/`
folder is copied into a generated app package next to a few stub modules (the
only endoreg_db modules the migrations import), and every row is written
through the *historical* models of the migration state, which carry each
field's real column, default and on_delete.

Sub-commands (see make-endoreg-db.sh):
  extract WHEEL DEST   -> DEST/endoreg_db/migrations/*.py
  build   VERSION MIGRATIONS_DIR WORK_DIR OUT_DIR
          -> OUT_DIR/endoreg-db-VERSION.{sqlite,expected.json,manifest.json}
             WORK_DIR/relations-VERSION.json (input of `profile`)
  pgbuild VERSION MIGRATIONS_DIR WORK_DIR OUT_DIR   (after build; needs psycopg and
          a cluster of scripts/pg-test-cluster.sh: PGHOST, PGPORT, PGTEST_APP_USER/_PASSWORD, PGBIN)
          -> OUT_DIR/endoreg-db-VERSION.postgres.sql, checked against the .sqlite,
             .manifest.json and .expected.json that build wrote
  profile PROFILE_JSON OUT_DIR RELATIONS_JSON...   (no Django needed)
          -> the schema profile, checked against each OUT_DIR/endoreg-db-VERSION.*
"""

import datetime
import decimal
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
import zipfile

# ---------------------------------------------------------------------------
# Determinism. Migration files evaluate `default=uuid.uuid4` and
# `default=django.utils.timezone.now` when they are imported, so both are
# replaced before Django (and the migration loader) runs.
# ---------------------------------------------------------------------------

FIXED_NOW = datetime.datetime(2025, 10, 1, 8, 0, 0, tzinfo=datetime.timezone.utc)
_uuid_counter = [0]


def _fixed_uuid4():
    _uuid_counter[0] += 1
    # Version-4 layout, counter in the low bits: ffffffff-ffff-4fff-8fff-<counter>.
    return uuid.UUID("ffffffff-ffff-4fff-8fff-%012x" % _uuid_counter[0])


def _fixed_now():
    return FIXED_NOW


def install_determinism():
    uuid.uuid4 = _fixed_uuid4
    import django.utils.timezone as tz

    tz.now = _fixed_now


# ---------------------------------------------------------------------------
# The generated app package
# ---------------------------------------------------------------------------

STUBS = {
    "endoreg_db/__init__.py": "",
    "endoreg_db/apps.py": (
        "from django.apps import AppConfig\n\n\n"
        "class EndoregDbConfig(AppConfig):\n"
        "    name = 'endoreg_db'\n"
        "    default_auto_field = 'django.db.models.BigAutoField'\n"
    ),
    # Empty on purpose: every model comes from the migration state.
    "endoreg_db/models/__init__.py": "",
    "endoreg_db/models/hub/__init__.py": "",
    # Imported by 1.x migration 0016 (FileField upload_to callable).
    "endoreg_db/models/hub/upload_job.py": (
        "def upload_job_upload_to(instance, filename):\n"
        "    return 'uploads/' + filename\n"
    ),
    "endoreg_db/models/media/__init__.py": "",
    "endoreg_db/models/media/video/__init__.py": "",
    # Imported by 1.x migration 0017 (callable default of VideoFile.storage_mode).
    # The real function asks the Rust storage-profile table; with no
    # ENDOREG_STORAGE_PROFILE set (profile hybrid_default) it yields app_encrypted.
    "endoreg_db/models/media/video/storage_mode.py": (
        "def get_default_video_storage_mode_value():\n"
        "    return 'app_encrypted'\n"
    ),
    "endoreg_db/utils/__init__.py": "",
    "endoreg_db/utils/encryption/__init__.py": "",
    # Imported by 1.x migrations 0025, 0039, 0075, 0085 (FileField storage=).
    "endoreg_db/utils/encryption/encrypted.py": (
        "from django.core.files.storage import Storage\n"
        "from django.utils.deconstruct import deconstructible\n\n\n"
        "@deconstructible\n"
        "class LazyEncryptedStorage(Storage):\n"
        "    def __init__(self, *, location=None, base_url=None, chunk_size=65536):\n"
        "        self.location = location\n"
        "        self.base_url = base_url\n"
        "        self.chunk_size = chunk_size\n"
    ),
}


def make_project(migrations_dir, proj_dir):
    if os.path.exists(proj_dir):
        shutil.rmtree(proj_dir)
    for rel, text in STUBS.items():
        path = os.path.join(proj_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    shutil.copytree(migrations_dir, os.path.join(proj_dir, "endoreg_db", "migrations"))


def setup_django(proj_dir, db_path, media_root, databases=None):
    sys.path.insert(0, proj_dir)
    install_determinism()
    from django.conf import settings

    settings.configure(
        SECRET_KEY="endoreg-db-fixture",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "endoreg_db.apps.EndoregDbConfig",
        ],
        DATABASES=databases or {
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db_path},
        },
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
        TIME_ZONE="UTC",
        MEDIA_ROOT=media_root,
    )
    import django

    django.setup()


def migration_state_apps():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    return MigrationExecutor(connection).loader.project_state().apps


# ---------------------------------------------------------------------------
# Relations: every FK into VideoFile and, recursively, into every model that a
# VideoFile delete cascades into. Auto-created M2M link models are ordinary
# models of the state apps with two CASCADE foreign keys, so they come out of
# the same walk.
# ---------------------------------------------------------------------------

ON_DELETE_NAMES = {
    "CASCADE": "cascade",
    "SET_NULL": "set_null",
    "PROTECT": "protect",
    "RESTRICT": "restrict",
    "SET_DEFAULT": "set_default",
    "DO_NOTHING": "do_nothing",
    # Django >= 6.1 database-level variants (not used by these releases).
    "DB_CASCADE": "db_cascade",
    "DB_SET_NULL": "db_set_null",
    "DB_SET_DEFAULT": "db_set_default",
}


def on_delete_name(field):
    fn = field.remote_field.on_delete
    name = getattr(fn, "__name__", repr(fn))
    if name == "set_on_delete":  # models.SET(value)
        return "set"
    return ON_DELETE_NAMES.get(name, name)


def fk_fields(model):
    return [
        f
        for f in model._meta.local_concrete_fields
        if f.is_relation and (f.many_to_one or f.one_to_one)
    ]


def cascade_closure(apps, start):
    """Models VideoFile's delete can reach through CASCADE (incl. itself), plus
    the list of every FK pointing into that set."""
    models = sorted(
        apps.get_models(include_auto_created=True), key=lambda m: m._meta.label
    )
    closure = {start._meta.label: start}
    changed = True
    while changed:
        changed = False
        for m in models:
            for f in fk_fields(m):
                target = f.remote_field.model._meta.concrete_model
                if target._meta.label in closure and on_delete_name(f) == "cascade":
                    if m._meta.label not in closure:
                        closure[m._meta.label] = m
                        changed = True
    rels = []
    for m in models:
        for f in fk_fields(m):
            target = f.remote_field.model._meta.concrete_model
            if target._meta.label not in closure:
                continue
            rel = {
                "table": m._meta.db_table,
                "column": f.column,
                "references": target._meta.db_table,
                "to_column": f.target_field.column,
                "on_delete": on_delete_name(f),
                "model": "%s.%s" % (m._meta.object_name, f.name),
            }
            if f.one_to_one:
                rel["one_to_one"] = True
            if f.null:
                rel["nullable"] = True
            if m._meta.auto_created:
                # Auto-created M2M link table ("through"): Django deletes its rows.
                owner = m._meta.auto_created
                m2m = [
                    x
                    for x in owner._meta.local_many_to_many
                    if x.remote_field.through is m
                ][0]
                rel["m2m"] = "%s.%s" % (owner._meta.object_name, m2m.name)
                rel["model"] = "%s.%s (link table)" % (m2m.remote_field.through._meta.object_name, f.name)
            if on_delete_name(f) == "set_default":
                rel["default"] = f.get_default()
            if on_delete_name(f) == "set":
                rel["note"] = "models.SET(...)"
            if m._meta.parents:
                rel["mti_child"] = True
            rels.append(rel)
    rels.sort(key=lambda r: (r["references"] != start._meta.db_table, r["table"], r["column"]))
    return closure, rels


# ---------------------------------------------------------------------------
# Row builder: explicit values where the scenario cares, plausible
# deterministic values for every other NOT NULL column without a default, and
# one shared parent row per model for required foreign keys.
# ---------------------------------------------------------------------------


def sha256_hex(text):
    return hashlib.sha256(text.encode()).hexdigest()


class Builder:
    def __init__(self, apps):
        self.apps = apps
        self.shared = {}
        self.n = 0
        self._making = set()

    def has(self, model_name, field_name=None):
        try:
            m = self.apps.get_model("endoreg_db", model_name)
        except LookupError:
            return False
        if field_name is None:
            return True
        return any(
            f.name == field_name
            for f in m._meta.local_fields + m._meta.local_many_to_many
        )

    def model(self, name):
        if "." in name:
            return self.apps.get_model(name)
        return self.apps.get_model("endoreg_db", name)

    def _next(self):
        self.n += 1
        return self.n

    def auto_value(self, model, f):
        from django.db import models as m

        n = self._next()
        if f.choices:
            return f.choices[0][0]
        name = f.name
        if isinstance(f, m.BooleanField):
            return False
        if isinstance(f, (m.AutoField,)):
            return None
        if isinstance(f, m.IntegerField):  # incl. Positive*, Big*, Small*
            return 1
        if isinstance(f, m.FloatField):
            return 1.0
        if isinstance(f, m.DecimalField):
            return decimal.Decimal("0")
        if isinstance(f, m.DateTimeField):
            return FIXED_NOW
        if isinstance(f, m.DateField):
            return FIXED_NOW.date()
        if isinstance(f, m.TimeField):
            return FIXED_NOW.time()
        if isinstance(f, m.DurationField):
            return datetime.timedelta(0)
        if isinstance(f, m.UUIDField):
            return uuid.uuid4()
        if isinstance(f, m.JSONField):
            return {}
        if isinstance(f, m.BinaryField):
            return b""
        if isinstance(f, m.FileField):
            return ""
        if isinstance(f, m.URLField):
            return "https://example.invalid/%s/%d" % (name, n)
        if isinstance(f, m.EmailField):
            return "user%d@example.invalid" % n
        if isinstance(f, (m.CharField, m.TextField)):
            if f.blank and not f.unique:
                return ""
            if "sha256" in name or "hash" in name:
                v = sha256_hex("%s.%s.%d" % (model._meta.label, name, n))
            else:
                v = "%s-%d" % (name.replace("_", "-"), n)
            return v[: f.max_length] if f.max_length else v
        raise RuntimeError("no auto value for %s.%s (%s)" % (model._meta.label, name, type(f).__name__))

    def parent(self, model):
        label = model._meta.label
        if label not in self.shared:
            if label in self._making:
                raise RuntimeError("cycle of required foreign keys at " + label)
            self._making.add(label)
            self.shared[label] = self.make(label)
            self._making.discard(label)
        return self.shared[label]

    def make(self, model_name, **kw):
        from django.db.models import NOT_PROVIDED

        model = self.model(model_name)
        known = {}
        for f in model._meta.concrete_fields:
            known[f.name] = f
            known[f.attname] = f
        for k in kw:
            if k not in known:
                raise RuntimeError("%s has no field %s" % (model._meta.label, k))
        given = {known[k].name for k in kw}
        for f in model._meta.concrete_fields:
            if f.name in given or f.primary_key or f.null:
                continue
            if f.default is not NOT_PROVIDED:
                continue
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                continue
            if f.is_relation:
                kw[f.name] = self.parent(f.remote_field.model)
            else:
                kw[f.name] = self.auto_value(model, f)
        obj = model(**kw)
        obj.save(force_insert=True)
        return obj

    def link(self, owner, m2m_name, *targets):
        getattr(owner, m2m_name).add(*targets)


# ---------------------------------------------------------------------------
# The scenario: the same video ids and roles in every release line, adapted
# to what each schema has.
# ---------------------------------------------------------------------------

VIDEO_NS = uuid.UUID("6f1c2a4e-3b5d-4e8f-9a0b-1c2d3e4f5a6b")

# id: (role, invalid, raw fixture or None (missing) or "ENCRYPTED", suffix)
VIDEOS = {
    1: ("valid", False, "ok-faststart.mp4", "mp4"),
    2: ("valid_webm", False, "ok.webm", "webm"),
    3: ("valid_streamable", False, "ok-moov-end.mp4", "mp4"),  # 1.x only
    4: ("encrypted", False, "ENCRYPTED", "mp4"),  # 1.x only
    5: ("missing_file", True, None, "mp4"),
    6: ("too_few_frames", True, "three-frames.mp4", "mp4"),
    7: ("empty_file", True, "empty.mp4", "mp4"),
    8: ("not_media", True, "text.mp4", "mp4"),  # 1.x: also held by a PROTECT job
    9: ("protected", True, None, "mp4"),  # 1.x only
}
ENCRYPTED_SIZE = 4096


def video_uuid(vid):
    return uuid.uuid5(VIDEO_NS, "video-%d" % vid)


def video_hash(vid):
    return sha256_hex("endoreg-db fixture raw video %d" % vid)


class Scenario:
    def __init__(self, apps):
        self.b = Builder(apps)
        self.media = {}
        self.missing = []
        self.encrypted = {}
        self.videos = []
        self.notes = []

    # -- layout -------------------------------------------------------------
    def layout(self, vid, suffix):
        b = self.b
        if b.has("VideoFile", "uuid") and not b.has("VideoFile", "storage_mode"):
            # 0.8.4.8: the import service writes videos/sensitive/ and anonym_videos/
            key = str(video_uuid(vid))
            return ("videos/sensitive/%s.%s" % (key, suffix), "anonym_videos/%s.mp4" % key)
        key = video_hash(vid)
        return ("sensitive_videos/%s.%s" % (key, suffix), "processed_videos_final/%s.mp4" % key)

    def run(self):
        b = self.b
        v1x = b.has("VideoFile", "storage_mode")
        hash_field = "raw_video_hash" if b.has("VideoFile", "raw_video_hash") else "video_hash"
        center_kw = {"name": "Fixture University Hospital"}
        if b.has("Center", "center_key"):
            center_kw["center_key"] = "fixture-center"
        if b.has("Center", "display_name"):
            center_kw["display_name"] = "Fixture University Hospital"
        user = b.make("auth.User", username="fixture-operator", password="!",
                      email="operator@example.invalid", is_active=True)
        b.shared["auth.User"] = user
        self.center = b.make("Center", **center_kw)
        b.shared["endoreg_db.Center"] = self.center
        self.processor = b.make("EndoscopyProcessor", name="Olympus CV-1500")
        b.shared["endoreg_db.EndoscopyProcessor"] = self.processor
        if b.has("AIDataSet", "is_default_video_dataset"):
            # Created by migration 0078 on every database, even an empty one.
            self.joined = b.model("AIDataSet").objects.get(is_default_video_dataset=True)
        self.training = None
        if b.has("AIDataSet"):
            self.training = b.make(
                "AIDataSet", name="fixture-training-set", dataset_type="image",
                description="Training set linking fixture annotations",
            )
        V = {}
        for vid, (role, invalid, fixture, suffix) in sorted(VIDEOS.items()):
            if vid in (3, 4, 9) and not v1x:
                continue
            raw, processed = self.layout(vid, suffix)
            kw = {
                "id": vid,
                "raw_file": raw,
                "processed_file": None,
                hash_field: video_hash(vid),
                "original_file_name": "exam-%02d.%s" % (vid, suffix),
                "center": self.center,
                "processor": self.processor,
                "frame_dir": "",
                "suffix": suffix,
                "width": 64,
                "height": 48,
                "date": datetime.date(2025, 9, vid),
            }
            frames = {"ok-faststart.mp4": 60, "ok-moov-end.mp4": 60, "ok.webm": 30,
                      "three-frames.mp4": 3, "ENCRYPTED": 60, None: 60}.get(fixture)
            if frames:
                kw.update(frame_count=frames, fps=30.0, duration=frames / 30.0)
            if b.has("VideoFile", "uuid"):
                kw["uuid"] = video_uuid(vid)
            if b.has("VideoFile", "joined_dataset"):
                kw["joined_dataset"] = self.joined
            if v1x:
                kw["storage_mode"] = "app_encrypted" if fixture == "ENCRYPTED" else "fs_encrypted_streamable"
                kw["raw_streamable_relative_path"] = ""
                kw["processed_streamable_relative_path"] = ""
            if vid in (1, 5):
                kw["frame_dir"] = "/srv/endoreg/storage/frames/%s" % video_hash(vid)
            if vid in (1, 3):
                kw["processed_file"] = processed
                self.media[processed] = "ok-faststart.mp4" if vid == 1 else "ok-moov-end.mp4"
            if vid == 3:
                key = video_hash(vid)
                kw["raw_streamable_relative_path"] = "streamable_videos/raw/%s.mp4" % key
                kw["processed_streamable_relative_path"] = "streamable_videos/processed/%s.mp4" % key
                self.media[kw["raw_streamable_relative_path"]] = "ok-faststart.mp4"
                self.media[kw["processed_streamable_relative_path"]] = "ok-faststart.mp4"
            if fixture is None:
                self.missing.append(raw)
            elif fixture == "ENCRYPTED":
                self.encrypted[raw] = (
                    "app_encrypted ciphertext: the test writes %d pseudo-random bytes; "
                    "frame_count=60 in the row is the only frame count" % ENCRYPTED_SIZE
                )
            else:
                self.media[raw] = fixture
            V[vid] = b.make("VideoFile", **kw)
        # Model.save() writes '' for an absent FileField; QuerySet.update() (used by
        # the app's reset paths) can leave NULL. Video 2 gets the NULL form.
        b.model("VideoFile").objects.filter(pk=2).update(processed_file=None)
        V[2].refresh_from_db()
        self.V = V
        self.deps = {vid: [] for vid in V}
        self.common_parents()
        self.valid_main(V[1])
        self.missing_deep(V[5])
        self.three_frames(V[6])
        if 8 in V and v1x:
            self.protected_transcode(V[8])
        if 9 in V:
            self.protected_publication(V[9])
        self.describe()

    # -- shared parents -----------------------------------------------------
    def common_parents(self):
        b = self.b
        self.label = b.make("Label", name="polyp")
        b.shared["endoreg_db.Label"] = self.label
        self.source = b.make("InformationSource", name="fixture prediction")
        b.shared["endoreg_db.InformationSource"] = self.source
        ai_model = b.make("AiModel", name="fixture-classifier")
        labelset = b.make("LabelSet", name="fixture-labels", version=1)
        self.model_meta = b.make("ModelMeta", name="fixture-classifier", version="1",
                                 model=ai_model, labelset=labelset)
        b.shared["endoreg_db.ModelMeta"] = self.model_meta
        self.patient = b.make("Patient", first_name="Erika", last_name="Mustermann",
                              dob=datetime.date(1960, 1, 1))
        b.shared["endoreg_db.Patient"] = self.patient

    def frames(self, video, numbers):
        out = []
        for n in numbers:
            kw = dict(video=video, frame_number=n, relative_path="frame_%07d.jpg" % n,
                      timestamp=n / 30.0, is_extracted=True)
            out.append(self.b.make("Frame", **kw))
        return out

    def segment(self, video, start, end, prediction_meta=None):
        b = self.b
        seg = b.make("LabelVideoSegment", video_file=video, start_frame_number=start,
                     end_frame_number=end, label=self.label, source=self.source,
                     prediction_meta=prediction_meta)
        b.make("LabelVideoSegmentState", origin=seg, prediction=True)
        return seg

    def classification(self, frame):
        return self.b.make("ImageClassificationAnnotation", frame=frame, label=self.label,
                           value=True, float_value=0.9, information_source=self.source,
                           annotator="fixture", model_meta=self.model_meta)

    def finding_for(self, exam):
        b = self.b
        pf = b.make("PatientFinding", patient_examination=exam)
        return pf

    def examination(self, video, tag):
        b = self.b
        kw = dict(patient=self.patient, hash=sha256_hex("exam-" + tag),
                  date_start=datetime.date(2025, 9, 1))
        if video is not None:
            kw["video"] = video
        return b.make("PatientExamination", **kw)

    def metadata_and_history(self, video, tag):
        b = self.b
        b.make("VideoMetadata", video=video, sensitive_frame_count=2, sensitive_ratio=0.05,
               sensitive_frame_ids="[3, 4]")
        b.make("VideoProcessingHistory", video=video, operation="analysis", status="success",
               output_file="", details="fixture analysis run", task_id="task-" + tag)

    # -- video 1: valid, many dependents that must stay --------------------
    def valid_main(self, v):
        b = self.b
        fr = self.frames(v, [0, 30])
        self.classification(fr[0])
        self.metadata_and_history(v, "v1")
        self.vpm1 = b.make("VideoPredictionMeta", video_file=v, model_meta=self.model_meta,
                           prediction_array=b"\x00\x01\x02\x03")
        self.seg1 = self.segment(v, 0, 59, prediction_meta=self.vpm1)
        if b.has("PatientExamination", "video"):
            self.exam1 = self.examination(v, "v1")
        else:
            self.exam1 = self.examination(None, "v1")
        self.pf1 = self.finding_for(self.exam1)
        if b.has("AIDataSet", "videos"):
            self.training.videos.add(v)
        if b.has("AnonymizationValidationMetric"):
            b.make("AnonymizationValidationMetric", video=v, media_type="video", center=self.center)
        if b.has("VideoHlsArtifact"):
            b.make("VideoHlsArtifact", video=v, artifact_kind="processed", status="ready",
                   iv_hex="00" * 16, playlist_relative_path="hls/%s/index.m3u8" % video_hash(1),
                   segment_directory_relative_path="hls/%s" % video_hash(1),
                   source_file_name="%s.mp4" % video_hash(1), last_error="",
                   source_content_hash=video_hash(1), key_ciphertext=b"\x10\x20\x30",
                   key_nonce=b"\x01\x02")
        if b.has("VideoTranscodeJob"):
            b.make("VideoTranscodeJob", video=v, option="replace_processed", status="completed",
                   source_name="%s.mp4" % video_hash(1), source_sha256=video_hash(1))

    # -- video 5: missing raw file, dependents at depth ---------------------
    def missing_deep(self, v):
        b = self.b
        fr = self.frames(v, [0, 1, 2, 3])
        ica = [self.classification(fr[0]), self.classification(fr[1])]
        if b.has("FrameBoxAnnotation"):
            b.make("FrameBoxAnnotation", frame=fr[2], label=self.label, x=4.0, y=4.0,
                   width=16.0, height=12.0, image_width=64, image_height=48, value=True)
        vpm5 = b.make("VideoPredictionMeta", video_file=v, model_meta=self.model_meta,
                      prediction_array=b"\xff\xfe")
        seg_a = self.segment(v, 0, 30, prediction_meta=vpm5)
        self.segment(v, 30, 59)
        seg_a.patient_findings.add(self.pf1)  # link row goes, the finding stays
        # A segment of the valid video 1 names video 5's prediction: SET_NULL at depth 2.
        self.segment(self.V[1], 10, 20, prediction_meta=vpm5)
        self.metadata_and_history(v, "v5")
        if b.has("VideoSegmentationAnnotation"):
            b.make("VideoSegmentationAnnotation", video_file=v, start_time=0.0, stop_time=1.0,
                   is_true=True)
        if self.training is not None and b.has("AIDataSet", "image_annotations"):
            self.training.image_annotations.add(ica[0])
        if b.has("AIDataSet", "videos"):
            self.training.videos.add(v)
        if b.has("AIDataSet", "video_annotations"):
            self.training.video_annotations.add(seg_a)
        if b.has("FrameExtractionRequest"):
            b.make("FrameExtractionRequest", video=v, frame_number=12, task_id="extract-v5",
                   error_message="")
        if b.has("MediaOperationLease"):
            b.make("MediaOperationLease", video=v, lease_type="stream",
                   expires_at=FIXED_NOW + datetime.timedelta(hours=1))
        if b.has("VideoHlsArtifact"):
            b.make("VideoHlsArtifact", video=v, artifact_kind="raw", status="failed",
                   error_code="materialization_failed", iv_hex="11" * 16,
                   playlist_relative_path="hls/%s/index.m3u8" % video_hash(5),
                   segment_directory_relative_path="hls/%s" % video_hash(5),
                   source_file_name="%s.mp4" % video_hash(5), last_error="source missing",
                   source_content_hash=video_hash(5), key_ciphertext=b"\xaa\xbb", key_nonce=b"\xcc")
        if b.has("OutboundHubTransferJob"):
            b.make("OutboundHubTransferJob", video_file=v, resource_kind="video",
                   transfer_key="transfer-v5")
        # Rows the video names (forward one-to-ones): Django leaves them behind.
        fwd = {}
        if b.has("VideoFile", "state"):
            fwd["state"] = b.make("VideoState", frames_extracted=True)
        if b.has("VideoFile", "sensitive_meta"):
            fwd["sensitive_meta"] = b.make("SensitiveMeta", center=self.center,
                                           patient_first_name="Erika", patient_last_name="Mustermann")
        for k, val in fwd.items():
            setattr(v, k, val)
        if fwd:
            v.save(update_fields=list(fwd))

    # -- video 6: three frames ---------------------------------------------
    def three_frames(self, v):
        b = self.b
        self.frames(v, [0, 1, 2])
        if b.has("AnonymizationValidationMetric"):
            b.make("AnonymizationValidationMetric", video=v, media_type="video", center=self.center)
        if b.has("PatientExamination", "video"):
            # 0.8.x: PatientExamination.video is a CASCADE one-to-one, so the
            # video's delete reaches clinical data.
            exam = self.examination(v, "v6")
            pf = self.finding_for(exam)
            b.make("PatientFindingClassification", finding=pf)
            b.make("PatientFindingIntervention", finding=pf)
            b.make("PatientExaminationIndication", patient_examination=exam)
            case = b.make("Case", patient=self.patient, start_date=FIXED_NOW)
            case.patient_examinations.add(exam)
            sm = b.make("SensitiveMeta", center=self.center, pseudo_examination=exam,
                        patient_first_name="Max", patient_last_name="Mustermann")
            b.make("SensitiveMetaState", origin=sm)
            examiner = b.make("Examiner", first_name="Eva", last_name="Example",
                              hash=sha256_hex("examiner"), center=self.center)
            sm.examiners.add(examiner)
            # SET_NULL into the closure: the report stays, both links go NULL.
            b.make("AnonymExaminationReport", patient_examination=exam, sensitive_meta=sm,
                   center=self.center, text="fixture report")
            v.examination = exam
            v.sensitive_meta = sm
            v.save(update_fields=["examination", "sensitive_meta"])

    # -- 1.x: videos held by PROTECT ---------------------------------------
    def protected_transcode(self, v):
        b = self.b
        b.make("VideoTranscodeJob", video=v, option="replace_processed", status="failed",
               error_code="probe_failed", source_name="%s.mp4" % video_hash(8),
               source_sha256=video_hash(8))
        self.metadata_and_history(v, "v8")

    def protected_publication(self, v):
        b = self.b
        self.frames(v, [0, 1])
        b.make("StorageArtifactPublication", video_file=v, resource_kind="video",
               processed_file_name="%s.mp4" % video_hash(9), processed_sha256=video_hash(9),
               source_center_key="fixture-center")
        if b.has("StorageArtifactPlacement"):
            b.make("StorageArtifactPlacement", media_lease_video=v, artifact_key=video_hash(9),
                   artifact_kind="anonymized_video", expected_size_bytes=1024,
                   sha256=video_hash(9), policy_version="v1")

    def describe(self):
        b = self.b
        v1x = b.has("VideoFile", "storage_mode")
        text = {
            1: "valid (raw + processed); frames, a classification, a segment with state, "
               "video metadata, processing history, prediction meta%s%s: none may be deleted"
               % (", patient examination (CASCADE one-to-one)" if b.has("PatientExamination", "video") else "",
                  ", AI dataset link, validation metric, HLS artifact, completed transcode job (PROTECT)" if v1x else ""),
            2: "valid WebM raw file, processed_file NULL (the others without one hold ''), no dependents",
            3: "valid; fs_encrypted_streamable with raw and processed streamable copies",
            4: "valid app_encrypted: the raw file is ciphertext, frame_count=60 is the only frame count",
            5: "raw file missing: frames with classification%s annotations, prediction meta, "
               "2 segments with states and a finding link, video metadata, processing history, "
               "segmentation annotation%s; a segment of video 1 names its prediction meta (SET_NULL); "
               "its state/sensitive meta rows are left behind"
               % (" and box" if b.has("FrameBoxAnnotation") else "",
                  ", AI dataset links, frame extraction request, lease, HLS artifact, outbound transfer job" if v1x else
                  (", AI dataset image-annotation link" if b.has("AIDataSet", "image_annotations") else "")),
            6: ("3-frame raw file; 3 frames" + (
                    ", anonymization validation metric (SET_NULL)" if b.has("AnonymizationValidationMetric") else "") + (
                    ", patient examination (CASCADE one-to-one) with finding, classification, "
                    "intervention, indication, case link, pseudo sensitive meta (+state, examiner link) "
                    "and an anonymized report whose two links go NULL" if b.has("PatientExamination", "video") else "")),
            7: "empty (0-byte) raw file",
            8: "raw file is text, not a video" + (
                "; held by a failed VideoTranscodeJob (PROTECT), video metadata, processing history" if v1x else ""),
            9: "raw file missing; held by a StorageArtifactPublication and a StorageArtifactPlacement (PROTECT); 2 frames",
        }
        for vid, v in sorted(self.V.items()):
            v.refresh_from_db()
            role, invalid, fixture, _ = VIDEOS[vid]
            if vid == 8 and v1x:
                role = "protected"
            entry = {"id": vid}
            if b.has("VideoFile", "uuid"):
                entry["uuid"] = video_uuid(vid).hex
            entry.update({"role": role, "invalid": invalid, "raw_file": v.raw_file.name,
                          "processed_file": v.processed_file.name})
            for k in ("raw_streamable_relative_path", "processed_streamable_relative_path"):
                if getattr(v, k, ""):
                    entry[k] = getattr(v, k)
            if v1x:
                entry["storage_mode"] = v.storage_mode
            entry["dependents"] = text[vid]
            self.videos.append(entry)


# ---------------------------------------------------------------------------
# Dumps
# ---------------------------------------------------------------------------


def _json_value(v):
    if isinstance(v, bytes):
        return {"blob_hex": v.hex()}
    return v


def table_keys(con, table):
    info = con.execute('PRAGMA table_info("%s")' % table).fetchall()
    pk = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5] > 0]
    return [r[1] for r in info], pk


def dump_tables(path):
    con = sqlite3.connect(path)
    out = {}
    for (t,) in con.execute(
        "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"
    ).fetchall():
        cols, pk = table_keys(con, t)
        order = ", ".join('"%s"' % c for c in (pk or cols))
        rows = con.execute('SELECT * FROM "%s" ORDER BY %s' % (t, order)).fetchall()
        out[t] = [{c: _json_value(v) for c, v in zip(cols, r)} for r in rows]
    con.close()
    return out


def row_key(table_rows_pk, row):
    return tuple(json.dumps(row[c], sort_keys=True) for c in table_rows_pk)


def diff_dumps(path, before, after):
    con = sqlite3.connect(path)
    deleted, nulled, other = {}, [], []
    for t in sorted(before):
        cols, pk = table_keys(con, t)
        keycols = pk or cols
        b = {row_key(keycols, r): r for r in before[t]}
        a = {row_key(keycols, r): r for r in after.get(t, [])}
        gone = [k for k in b if k not in a]
        if gone:
            deleted[t] = len(gone)
        if set(a) - set(b):
            other.append("rows appeared in %s" % t)
        for k, ra in a.items():
            rb = b.get(k)
            if rb is None:
                continue
            for c in cols:
                if rb[c] != ra[c]:
                    if ra[c] is None:
                        pkval = ra[pk[0]] if len(pk) == 1 else [ra[x] for x in pk]
                        nulled.append({"table": t, "pk": pkval, "column": c})
                    else:
                        other.append("%s %s.%s changed" % (t, k, c))
    con.close()
    nulled.sort(key=lambda d: (d["table"], json.dumps(d["pk"]), d["column"]))
    return deleted, nulled, other


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False, ensure_ascii=False)
        f.write("\n")


# ---------------------------------------------------------------------------
# Checks and facts read off the migrated database
# ---------------------------------------------------------------------------


def schema_mismatches(apps, db_path):
    """Columns the migration state declares vs. columns the database has."""
    con = sqlite3.connect(db_path)
    out = []
    for m in sorted(apps.get_models(include_auto_created=True), key=lambda m: m._meta.label):
        if not m._meta.managed or m._meta.proxy:
            continue
        t = m._meta.db_table
        cols, _ = table_keys(con, t)
        if not cols:
            out.append("%s: table %s missing" % (m._meta.label, t))
            continue
        want = {f.column for f in m._meta.local_concrete_fields}
        if m._meta.parents:
            want |= {f.column for f in m._meta.concrete_fields if f.model is m}
        if set(cols) != want:
            out.append("%s (%s): db-only %s, state-only %s" % (
                m._meta.label, t, sorted(set(cols) - want), sorted(want - set(cols))))
    con.close()
    return out


VIDEO_COLUMNS = [
    "id", "uuid", "raw_file", "processed_file", "frame_count", "fps", "duration", "frame_dir",
    "storage_mode", "raw_streamable_relative_path", "processed_streamable_relative_path",
    "video_hash", "raw_video_hash", "processed_video_hash",
]


def facts(apps, db_path, closure, rels):
    con = sqlite3.connect(db_path)
    VF = apps.get_model("endoreg_db", "VideoFile")
    cols, pk = table_keys(con, VF._meta.db_table)
    decl = {r[1]: r[2] for r in con.execute('PRAGMA table_info("%s")' % VF._meta.db_table)}
    f = {
        "videofile_table": VF._meta.db_table,
        "videofile_columns": cols,
        "videofile_column_types": decl,
        "videofile_create_sql": con.execute(
            "SELECT sql FROM sqlite_master WHERE name=?", (VF._meta.db_table,)).fetchone()[0],
    }
    fields = {x.name: x for x in VF._meta.concrete_fields}
    if "storage_mode" in fields:
        sm = fields["storage_mode"]
        f["storage_mode_choices"] = [c[0] for c in sm.choices]
        f["storage_mode_default"] = sm.get_default()
    for name in ("raw_file", "processed_file"):
        if name in fields:
            f["%s_upload_to" % name] = fields[name].upload_to
    # Every foreign key constraint Django wrote: any ON DELETE action?
    actions = set()
    for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'"):
        for r in con.execute('PRAGMA foreign_key_list("%s")' % t):
            actions.add((r[5], r[6]))  # on_update, on_delete
    f["sqlite_fk_actions"] = sorted("%s/%s" % a for a in actions)
    # Tables of the closure (and link tables) whose key is not one integer column.
    odd = []
    tables = sorted({r["table"] for r in rels} | {m._meta.db_table for m in closure.values()})
    for t in tables:
        info = con.execute('PRAGMA table_info("%s")' % t).fetchall()
        pkc = [r for r in info if r[5] > 0]
        if len(pkc) != 1 or pkc[0][2].lower() != "integer":
            odd.append({"table": t, "primary_key": [r[1] for r in pkc],
                        "types": [r[2] for r in pkc]})
    f["non_integer_or_composite_keys"] = odd
    # Every relation (anywhere) whose on_delete is RESTRICT / SET / SET_DEFAULT / DO_NOTHING.
    unusual = []
    contenttype_fks = []
    soft = []
    for m in sorted(apps.get_models(include_auto_created=True), key=lambda m: m._meta.label):
        for fld in fk_fields(m):
            od = on_delete_name(fld)
            tgt = fld.remote_field.model._meta
            if od in ("restrict", "set", "set_default", "do_nothing") or od.startswith("db_"):
                unusual.append("%s.%s -> %s %s" % (m._meta.object_name, fld.name, tgt.label, od))
            if tgt.label == "contenttypes.ContentType":
                contenttype_fks.append("%s.%s" % (m._meta.label, fld.name))
        for fld in m._meta.local_concrete_fields:
            if fld.is_relation:
                continue
            n = fld.name
            if ("video" in n and (n.endswith("_id") or n.endswith("_uuid") or n.endswith("_pk") or n == "video")) or n in ("object_id", "target_object_id"):
                soft.append("%s.%s (%s, %s)" % (m._meta.db_table, fld.column, type(fld).__name__,
                                                "no FK"))
        if m._meta.parents and m._meta.label in closure:
            unusual.append("%s has multi-table-inheritance parents %s" % (
                m._meta.label, [p._meta.label for p in m._meta.parents]))
    f["unusual_on_delete"] = unusual
    f["contenttype_foreign_keys"] = contenttype_fks
    f["soft_references"] = soft
    con.close()
    return f


# ---------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------


def vacuum_small(path):
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("PRAGMA page_size=1024")
    con.execute("VACUUM")
    con.close()


def django_delete(apps, VF, invalid):
    """Django's collector on the invalid videos of the default database: each
    one collected alone; those raising ProtectedError/RestrictedError are left
    out, the rest deleted together. Returns (deleted ids, protected ids,
    {id: why}, {table: rows deleted} as the collector counted them)."""
    from django.db import transaction
    from django.db.models.deletion import Collector, ProtectedError, RestrictedError

    protected, why = [], {}
    for vid in invalid:
        qs = VF.objects.filter(pk=vid)
        try:
            Collector(using="default", origin=qs).collect(qs)
        except (ProtectedError, RestrictedError) as e:
            protected.append(vid)
            objs = getattr(e, "protected_objects", None) or getattr(e, "restricted_objects", None) or []
            why[vid] = {"error": type(e).__name__,
                        "held_by": sorted("%s pk=%s" % (o._meta.db_table, o.pk.hex if isinstance(o.pk, uuid.UUID) else o.pk)
                                          for o in objs)}
    to_delete = [v for v in invalid if v not in protected]
    with transaction.atomic():
        total, per_label = VF.objects.filter(pk__in=to_delete).delete()
    by_table = {}
    for label, n in per_label.items():
        if n:
            by_table[apps.get_model(label)._meta.db_table] = n
    return to_delete, protected, why, by_table


def manifest_of(version, sc):
    return {
        "version": version,
        "media": dict(sorted(sc.media.items())),
        "missing": sorted(sc.missing),
        "encrypted": dict(sorted(sc.encrypted.items())),
        "encrypted_sizes": {k: ENCRYPTED_SIZE for k in sorted(sc.encrypted)},
        "videos": sc.videos,
    }


def build(version, migrations_dir, work, out_dir):

    t0 = time.time()
    os.makedirs(work, exist_ok=True)
    proj = os.path.join(work, "proj")
    db = os.path.join(work, "migrated.sqlite")
    for p in (db, db + "-journal"):
        if os.path.exists(p):
            os.remove(p)
    make_project(migrations_dir, proj)
    setup_django(proj, db, os.path.join(work, "media"))

    import django
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0, interactive=False)
    uuid4_calls = _uuid_counter[0]
    with connection.cursor() as c:
        c.execute("UPDATE django_migrations SET applied = %s", [FIXED_NOW])
    apps = migration_state_apps()
    mism = schema_mismatches(apps, db)
    VF = apps.get_model("endoreg_db", "VideoFile")
    closure, rels = cascade_closure(apps, VF)
    print("  %s: migrated with Django %s in %.0fs; %d models, %d relations"
          % (version, django.get_version(), time.time() - t0,
             len(apps.get_models(include_auto_created=True)), len(rels)))

    sc = Scenario(apps)
    with transaction.atomic():
        sc.run()
    connection.close()

    final = os.path.join(out_dir, "endoreg-db-%s.sqlite" % version)
    shutil.copyfile(db, final)
    vacuum_small(final)

    # The scenario runs on a copy; the committed .sqlite stays the BEFORE state.
    work_db = os.path.join(work, "scenario.sqlite")
    shutil.copyfile(final, work_db)
    connection.settings_dict["NAME"] = work_db
    before = dump_tables(work_db)

    invalid = [v["id"] for v in sc.videos if v["invalid"]]
    to_delete, protected, why, by_table = django_delete(apps, VF, invalid)
    connection.close()
    after = dump_tables(work_db)
    deleted, nulled, other = diff_dumps(work_db, before, after)
    if other:
        raise RuntimeError("unexpected changes: %s" % other)
    if by_table != deleted:
        raise RuntimeError("collector counts %s != dump diff %s" % (by_table, deleted))

    expected = {
        "version": version,
        "scenario": {
            "description": (
                "Django's deletion collector on the invalid videos: each invalid video is "
                "collected alone first; those whose collection raises ProtectedError or "
                "RestrictedError are left out, the rest are deleted together with "
                "VideoFile.objects.filter(pk__in=...).delete() in one transaction. "
                "tables is every table after that delete (rows by primary key)."),
            "django": django.get_version(),
            "invalid_videos": invalid,
            "protection": {str(k): v for k, v in sorted(why.items())},
        },
        "deleted_videos": to_delete,
        "protected_videos": protected,
        "deleted_counts": dict(sorted(deleted.items())),
        "nulled": nulled,
        "tables": after,
    }
    write_json(os.path.join(out_dir, "endoreg-db-%s.expected.json" % version), expected)
    write_json(os.path.join(out_dir, "endoreg-db-%s.manifest.json" % version), manifest_of(version, sc))
    info = {
        "version": version,
        "django": django.get_version(),
        "relations": rels,
        "closure": sorted(m._meta.db_table for m in closure.values()),
        "facts": facts(apps, final, closure, rels),
        "schema_mismatches": mism,
        # uuid4() calls made by migrate on SQLite: pgbuild starts the scenario there too.
        "uuid4_calls_in_migrate": uuid4_calls,
        "all_fks": sorted(
            ({"table": m._meta.db_table, "column": f.column,
              "references": f.remote_field.model._meta.concrete_model._meta.db_table,
              "on_delete": on_delete_name(f)}
             for m in apps.get_models(include_auto_created=True) for f in fk_fields(m)),
            key=lambda d: (d["table"], d["column"])),
        "scenario": {"deleted_videos": to_delete, "protected_videos": protected,
                     "deleted_counts": deleted, "nulled": nulled},
    }
    write_json(os.path.join(work, "relations-%s.json" % version), info)
    print("  %s: deleted %s, protected %s, %d rows deleted, %d nulled (%.0fs)"
          % (version, to_delete, protected, sum(deleted.values()), len(nulled), time.time() - t0))


# ---------------------------------------------------------------------------
# pgbuild: the same database on PostgreSQL 15, dumped as plain SQL
# ---------------------------------------------------------------------------

PG_DUMP_OPTIONS = ["--no-owner", "--no-privileges", "--no-comments"]
# pg_dump lines that name the server/client version (or, from 15.14 on, a
# random \restrict key): dropped so that two runs are byte-identical and any
# psql 15 can load the file.
PG_DUMP_VOLATILE = ("-- Dumped from database version", "-- Dumped by pg_dump version",
                    "\\restrict ", "\\unrestrict ")
# Nothing in the dump may need more than owning the database.
PG_DUMP_FORBIDDEN = ("OWNER TO", "GRANT ", "REVOKE ", "CREATE EXTENSION", "SECURITY LABEL",
                     "SESSION AUTHORIZATION", "\\connect", "DEFAULT PRIVILEGES", "CREATE SCHEMA",
                     "CREATE ROLE", "ALTER ROLE", "ALTER DATABASE", "ALTER SYSTEM")
PG_DUMP_SETTINGS = {"statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout",
                    "client_encoding", "standard_conforming_strings", "check_function_bodies",
                    "xmloption", "client_min_messages", "row_security", "default_tablespace",
                    "default_table_access_method"}


def pg_conninfo():
    """The throwaway cluster of scripts/pg-test-cluster.sh (PGHOST is its socket folder),
    as the database-owner role it creates, never as the superuser."""
    return {"host": os.environ["PGHOST"], "port": os.environ.get("PGPORT", "5432"),
            "user": os.environ["PGTEST_APP_USER"], "password": os.environ["PGTEST_APP_PASSWORD"]}


def pg_env():
    ci = pg_conninfo()
    env = dict(os.environ, PGHOST=ci["host"], PGPORT=ci["port"], PGUSER=ci["user"],
               PGPASSWORD=ci["password"], PGTZ="UTC", PGOPTIONS="")
    env.pop("PGDATABASE", None)
    return env


def pg_bin(name):
    return os.path.join(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"), name)


def pg_admin(*statements):
    """CREATE/DROP DATABASE, outside a transaction, from the role's own database."""
    import psycopg

    ci = pg_conninfo()
    with psycopg.connect(dbname=ci["user"], autocommit=True, **ci) as c:
        for st in statements:
            c.execute(st)


def pg_value(v):
    """PostgreSQL values in the form the SQLite fixture and its JSON use, where
    they can differ: uuid -> 32 hex digits, bytea -> bytes."""
    if isinstance(v, uuid.UUID):
        return v.hex
    if isinstance(v, memoryview):
        return bytes(v)
    return v


def pg_tables(cur):
    cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    return [t for (t,) in cur.fetchall()]


def pg_primary_key(cur, table):
    cur.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = ('public.' || quote_ident(%s))::regclass AND i.indisprimary "
        "ORDER BY array_position(i.indkey::int2[], a.attnum)", [table])
    return [c for (c,) in cur.fetchall()]


def pg_dump_tables(cur):
    """{table: (primary key columns, {key tuple: {column: value}})}, values via pg_value."""
    out = {}
    for t in pg_tables(cur):
        pk = pg_primary_key(cur, t)
        cur.execute('SELECT * FROM "%s"' % t)
        cols = [d[0] for d in cur.description]
        rows = {}
        for r in cur.fetchall():
            row = {c: pg_value(v) for c, v in zip(cols, r)}
            rows[tuple(row[c] for c in (pk or cols))] = row
        out[t] = (pk, rows)
    return out


def pg_diff(before, after):
    """Rows deleted per table and columns set to NULL, as diff_dumps does on SQLite."""
    deleted, nulled, other = {}, [], []
    for t in sorted(before):
        pk, b = before[t]
        a = after[t][1]
        gone = [k for k in b if k not in a]
        if gone:
            deleted[t] = len(gone)
        if set(a) - set(b):
            other.append("rows appeared in %s" % t)
        for k, ra in a.items():
            rb = b.get(k)
            if rb is None:
                continue
            for c in rb:
                if rb[c] != ra[c]:
                    if ra[c] is None:
                        nulled.append({"table": t, "pk": k[0] if len(k) == 1 else list(k), "column": c})
                    else:
                        other.append("%s %s.%s changed" % (t, k, c))
    nulled.sort(key=lambda d: (d["table"], json.dumps(d["pk"]), d["column"]))
    return deleted, nulled, other


def pg_set_sequences(cur, sqlite_path):
    """Every identity/serial sequence gets the value SQLite's AUTOINCREMENT
    counter has for the table (so it is past every inserted id, also the
    explicit video ids); tables SQLite never counted (no entry, or 0) keep a
    fresh sequence."""
    con = sqlite3.connect(sqlite_path)
    seq = dict(con.execute("SELECT name, seq FROM sqlite_sequence"))
    con.close()
    cur.execute(
        "SELECT table_name, column_name, "
        "pg_get_serial_sequence('public.' || quote_ident(table_name), column_name) "
        "FROM information_schema.columns WHERE table_schema = 'public' "
        "AND (is_identity = 'YES' OR column_default LIKE 'nextval(%%') ORDER BY 1, 2")
    found = cur.fetchall()
    for t, col, sq in found:
        cur.execute('SELECT max("%s") FROM "%s"' % (col, t))
        (mx,) = cur.fetchone()
        if seq.get(t):  # SQLite keeps 0 for tables a migration copied while empty
            if mx is not None and mx > seq[t]:
                raise SystemExit("%s: max(%s)=%s is past SQLite's counter %s" % (t, col, mx, seq[t]))
            cur.execute("SELECT setval(%s, %s, true)", [sq, seq[t]])
        elif mx is not None:
            raise SystemExit("%s has rows on PostgreSQL but no sqlite_sequence entry" % t)
        else:
            cur.execute("SELECT setval(%s, 1, false)", [sq])
    missing = sorted(set(seq) - {t for t, _, _ in found})
    if missing:
        raise SystemExit("sqlite_sequence names tables without a sequence on PostgreSQL: %s" % missing)
    return len(found)


def pg_compare_with_sqlite(cur, sqlite_path, video_table):
    """Same tables; per table the same column names (the order may differ:
    SQLite rebuilds tables), the same primary key and the same set of key
    values (so the same row count); for the video table also the file columns."""
    con = sqlite3.connect(sqlite_path)
    problems = []
    sq_tables = [t for (t,) in con.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name != 'sqlite_sequence' ORDER BY name")]
    pg_t = pg_tables(cur)
    if sq_tables != pg_t:
        problems.append("tables only in SQLite %s, only in PostgreSQL %s" % (
            sorted(set(sq_tables) - set(pg_t)), sorted(set(pg_t) - set(sq_tables))))
    rows = 0
    for t in sorted(set(sq_tables) & set(pg_t)):
        sq_cols, pk = table_keys(con, t)
        cur.execute("SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND table_name = %s", [t])
        pg_cols = [c for (c,) in cur.fetchall()]
        if sorted(sq_cols) != sorted(pg_cols):
            problems.append("%s: columns only in SQLite %s, only in PostgreSQL %s" % (
                t, sorted(set(sq_cols) - set(pg_cols)), sorted(set(pg_cols) - set(sq_cols))))
        if pk != pg_primary_key(cur, t):
            problems.append("%s: primary key %s on SQLite, %s on PostgreSQL" % (t, pk, pg_primary_key(cur, t)))
            continue
        cols = ", ".join('"%s"' % c for c in pk)
        sq_keys = con.execute('SELECT %s FROM "%s"' % (cols, t)).fetchall()
        cur.execute('SELECT %s FROM "%s"' % (cols, t))
        pg_keys = [tuple(pg_value(v) for v in r) for r in cur.fetchall()]
        if len(sq_keys) != len(pg_keys) or set(sq_keys) != set(pg_keys):
            problems.append("%s: %d rows on SQLite, %d on PostgreSQL; keys only in SQLite %s, only in PostgreSQL %s" % (
                t, len(sq_keys), len(pg_keys), sorted(set(sq_keys) - set(pg_keys))[:5],
                sorted(set(pg_keys) - set(sq_keys))[:5]))
        rows += len(sq_keys)
    vcols = [c for c in VIDEO_COLUMNS if c in table_keys(con, video_table)[0]]
    sel = 'SELECT %s FROM "%s" ORDER BY "id"' % (", ".join('"%s"' % c for c in vcols), video_table)
    sq_v = con.execute(sel).fetchall()
    cur.execute(sel)
    pg_v = [tuple(pg_value(v) for v in r) for r in cur.fetchall()]
    if sq_v != pg_v:
        problems.append("%s: columns %s differ:\n  SQLite %s\n  PostgreSQL %s" % (video_table, vcols, sq_v, pg_v))
    con.close()
    if problems:
        raise SystemExit("PostgreSQL data differs from %s:\n  %s" % (sqlite_path, "\n  ".join(problems)))
    return len(pg_t), rows


def pg_compare_values(apps, pg_alias, sqlite_alias):
    """Every column of every row, read through Django on both databases (so
    uuid/boolean/timestamptz/jsonb/bytea come back as the same Python values)."""
    from django.db.migrations.recorder import MigrationRecorder

    models = [m for m in apps.get_models(include_auto_created=True)
              if m._meta.managed and not m._meta.proxy] + [MigrationRecorder.Migration]
    problems, n = [], 0
    for m in sorted(models, key=lambda m: m._meta.db_table):
        fields = [f.attname for f in m._meta.local_concrete_fields]
        got = {}
        for alias in (pg_alias, sqlite_alias):
            got[alias] = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                          for r in m._base_manager.using(alias).order_by("pk").values_list(*fields)]
        if got[pg_alias] != got[sqlite_alias]:
            pairs = [(a, b) for a, b in zip(got[pg_alias], got[sqlite_alias]) if a != b]
            problems.append("%s: %d/%d rows, first difference %s" % (
                m._meta.db_table, len(got[pg_alias]), len(got[sqlite_alias]),
                [(f, a, b) for f, a, b in zip(fields, *pairs[0]) if a != b] if pairs else "(row counts)"))
        n += len(got[pg_alias])
    if problems:
        raise SystemExit("PostgreSQL values differ from SQLite:\n  " + "\n  ".join(problems))
    return n


def pg_dump_text(db, version, django_version):
    out = subprocess.run([pg_bin("pg_dump"), *PG_DUMP_OPTIONS, "--dbname", db], env=pg_env(),
                         check=True, stdout=subprocess.PIPE).stdout.decode("utf-8")
    lines = []
    for line in out.split("\n"):
        if line.startswith(PG_DUMP_VOLATILE):
            lines.append(None)  # its blank line goes too
        elif not (line == "" and lines and lines[-1] is None):
            lines.append(line)
    lines = [line for line in lines if line is not None]
    while lines and lines[-1] == "":
        lines.pop()
    head = [
        "-- endoreg-db %s: Django %s `migrate` into PostgreSQL 15 plus the fixture rows of" % (version, django_version),
        "-- endoreg-db-%s.sqlite (same ids, uuids and values), before any delete." % version,
        "-- Made by Fixtures/django/make-endoreg-db.sh (pg_dump %s); see Fixtures/django/README.md." % " ".join(PG_DUMP_OPTIONS),
        "-- Load into an empty database owned by the loading role (no superuser needed):",
        "--   psql -X -v ON_ERROR_STOP=1 -d DB -f endoreg-db-%s.postgres.sql" % version,
    ]
    return "\n".join(head + lines) + "\n"


def pg_check_dump_text(text):
    problems, in_copy = [], False
    for i, line in enumerate(text.split("\n"), 1):
        if in_copy:  # COPY data rows end at \.
            in_copy = line != "\\."
            continue
        if line.startswith("COPY ") and line.endswith(" FROM stdin;"):
            in_copy = True
            continue
        if line.startswith("--"):
            continue
        for bad in PG_DUMP_FORBIDDEN:
            if bad in line:
                problems.append("line %d: %s" % (i, line[:120]))
        if line.startswith("SET "):
            name = line[4:].split("=")[0].strip()
            if name not in PG_DUMP_SETTINGS:
                problems.append("line %d: unexpected setting %s" % (i, line))
    if problems:
        raise SystemExit("the dump needs more than a database owner:\n  " + "\n  ".join(problems))


def pgbuild(version, migrations_dir, work, out_dir):
    """The SQLite build's database again, on PostgreSQL: Django's migrate, the
    same Scenario (so the same rows), checked against the committed
    endoreg-db-VERSION.sqlite; Django's collector on a copy must reproduce
    endoreg-db-VERSION.expected.json; pg_dump writes
    endoreg-db-VERSION.postgres.sql, which must load as the owner role and dump
    back byte-identical."""
    t0 = time.time()
    stem = os.path.join(out_dir, "endoreg-db-%s" % version)
    db = "endoreg_" + version.replace(".", "_")
    copy_db, load_db = db + "_delete", db + "_load"
    os.makedirs(work, exist_ok=True)
    proj = os.path.join(work, "pgproj")
    fixture = os.path.join(work, "fixture.sqlite")  # the committed file stays untouched
    shutil.copyfile(stem + ".sqlite", fixture)
    pg_admin(*["DROP DATABASE IF EXISTS %s" % d for d in (db, copy_db, load_db)],
             "CREATE DATABASE %s" % db)
    make_project(migrations_dir, proj)
    ci = pg_conninfo()
    setup_django(proj, None, os.path.join(work, "media"), databases={
        "default": {"ENGINE": "django.db.backends.postgresql", "NAME": db, "USER": ci["user"],
                    "PASSWORD": ci["password"], "HOST": ci["host"], "PORT": ci["port"]},
        "fixture": {"ENGINE": "django.db.backends.sqlite3", "NAME": fixture},
    })

    import django
    from django.core.management import call_command
    from django.db import connection, connections, transaction

    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as c:
        c.execute("UPDATE django_migrations SET applied = %s", [FIXED_NOW])
    apps = migration_state_apps()
    VF = apps.get_model("endoreg_db", "VideoFile")
    print("  %s: migrated into PostgreSQL %d.%d with Django %s in %.0fs" % (
        version, connection.pg_version // 10000, connection.pg_version % 10000,
        django.get_version(), time.time() - t0))
    # The schema editors call a field's default a different number of times
    # (SQLite remakes tables, PostgreSQL adds columns): the scenario's uuid4()
    # values continue from where they did on SQLite.
    relations = json.load(open(os.path.join(work, "relations-%s.json" % version)))
    sqlite_calls = relations["uuid4_calls_in_migrate"]
    if _uuid_counter[0] != sqlite_calls:
        print("  %s: migrate called uuid4() %d times on PostgreSQL, %d on SQLite; the scenario "
              "continues from %d" % (version, _uuid_counter[0], sqlite_calls, sqlite_calls))
    _uuid_counter[0] = sqlite_calls

    sc = Scenario(apps)
    with transaction.atomic():
        sc.run()
    with connection.cursor() as c:
        nseq = pg_set_sequences(c, fixture)
        ntables, nrows = pg_compare_with_sqlite(c, fixture, VF._meta.db_table)
    nvalues = pg_compare_values(apps, "default", "fixture")
    manifest = json.loads(json.dumps(manifest_of(version, sc)))
    if manifest != json.load(open(stem + ".manifest.json")):
        raise SystemExit("%s: the PostgreSQL scenario's manifest differs from %s.manifest.json" % (version, stem))
    print("  %s: PostgreSQL = SQLite: %d tables, %d rows (every value read back through Django), "
          "%d sequences set" % (version, ntables, nrows, nseq))
    connections.close_all()

    # Django's delete on a copy; the dumped database stays the BEFORE state.
    pg_admin("CREATE DATABASE %s TEMPLATE %s" % (copy_db, db))
    connection.settings_dict["NAME"] = copy_db
    with connection.cursor() as c:
        before = pg_dump_tables(c)
    invalid = [v["id"] for v in sc.videos if v["invalid"]]
    to_delete, protected, why, by_table = django_delete(apps, VF, invalid)
    with connection.cursor() as c:
        after = pg_dump_tables(c)
    connections.close_all()
    deleted, nulled, other = pg_diff(before, after)
    if other:
        raise SystemExit("%s: unexpected changes on PostgreSQL: %s" % (version, other))
    if by_table != deleted:
        raise SystemExit("%s: collector counts %s != PostgreSQL diff %s" % (version, by_table, deleted))
    exp = json.load(open(stem + ".expected.json"))
    got = {"invalid_videos": invalid, "deleted_videos": to_delete, "protected_videos": protected,
           "protection": json.loads(json.dumps({str(k): v for k, v in sorted(why.items())})),
           "deleted_counts": dict(sorted(deleted.items())), "nulled": nulled}
    want = {"invalid_videos": exp["scenario"]["invalid_videos"], "deleted_videos": exp["deleted_videos"],
            "protected_videos": exp["protected_videos"], "protection": exp["scenario"]["protection"],
            "deleted_counts": exp["deleted_counts"], "nulled": exp["nulled"]}
    bad = ["%s: PostgreSQL %s, expected.json %s" % (k, got[k], want[k]) for k in got if got[k] != want[k]]
    for t, (pk, rows) in sorted(after.items()):
        keys = {tuple(r[c] for c in pk) for r in exp["tables"].get(t, [])}
        if set(rows) != keys:
            bad.append("%s after the delete: keys only on PostgreSQL %s, only in expected.json %s" % (
                t, sorted(set(rows) - keys)[:5], sorted(keys - set(rows))[:5]))
    if set(exp["tables"]) - {"sqlite_sequence"} != set(after):
        bad.append("tables differ from expected.json")
    if bad:
        raise SystemExit("%s: Django's delete on PostgreSQL differs from %s.expected.json:\n  %s" % (
            version, stem, "\n  ".join(bad)))
    print("  %s: Django's delete on PostgreSQL = expected.json: deleted %s, protected %s, "
          "%d rows deleted, %d nulled" % (version, to_delete, protected, sum(deleted.values()), len(nulled)))

    # pg_dump of what Django made is not always a fixpoint: PostgreSQL prints
    # `col = ANY ((ARRAY['a'::character varying])::text[])` in a CHECK or index
    # predicate, which reads back as `ANY (ARRAY[('a'::character varying)::text])`.
    # The committed file is the dump of a database loaded from the first dump,
    # so that loading it gives exactly what it says; one more round must agree.
    text = pg_dump_text(db, version, django.get_version())
    pg_check_dump_text(text)
    out = stem + ".postgres.sql"
    scratch = os.path.join(work, "dump-%s.sql" % version)
    rounds = []
    for n in range(3):
        with open(scratch, "w") as f:
            f.write(text)
        pg_admin("DROP DATABASE IF EXISTS %s" % load_db, "CREATE DATABASE %s" % load_db)
        t1 = time.time()
        subprocess.run([pg_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", load_db,
                        "-f", scratch], env=pg_env(), check=True, stdout=subprocess.DEVNULL)
        rounds.append(time.time() - t1)
        again = pg_dump_text(load_db, version, django.get_version())
        if again == text:
            break
        changed = sum(1 for a, b in zip(text.split("\n"), again.split("\n")) if a != b)
        print("  %s: dump of the loaded dump differs in %d lines; one more round" % (version, changed))
        text = again
    else:
        raise SystemExit("%s: pg_dump does not reach a fixpoint after %d rounds" % (version, len(rounds)))
    pg_check_dump_text(text)
    with open(out, "w") as f:
        f.write(text)
    pg_admin("DROP DATABASE %s" % copy_db, "DROP DATABASE %s" % load_db)
    print("  %s: %s, %d bytes; loads as %s in %.1fs and dumps back identical (%.0fs)" % (
        version, os.path.basename(out), len(text.encode()), ci["user"], rounds[-1], time.time() - t0))


# ---------------------------------------------------------------------------
# profile: the union of every release line's relations (no Django needed)
# ---------------------------------------------------------------------------


def _vkey(v):
    return tuple(int(x) for x in v.split("."))


def write_profile(profile_path, out_dir, relation_files):
    infos = sorted((json.load(open(p)) for p in relation_files), key=lambda i: _vkey(i["version"]))
    releases = [i["version"] for i in infos]
    merged = {}
    order = []
    for info in infos:
        for r in info["relations"]:
            key = (r["table"], r["column"], r["references"], r["to_column"], r["on_delete"])
            if key not in merged:
                entry = {k: r[k] for k in ("table", "column", "references", "to_column", "on_delete", "model")}
                for k in ("m2m", "one_to_one", "default", "note"):
                    if k in r:
                        entry[k] = r[k]
                entry["releases"] = []
                merged[key] = entry
                order.append(key)
            merged[key]["releases"].append(info["version"])
    # One column with different targets or actions in different releases would
    # be ambiguous for medialib: fail loudly rather than guess.
    seen = {}
    for key in order:
        tc = key[:2]
        if tc in seen:
            raise SystemExit("relation %s.%s differs between releases: %s vs %s" % (tc + (seen[tc], key)))
        seen[tc] = key
    video_table = infos[-1]["facts"]["videofile_table"]
    rels = [merged[k] for k in order]
    rels.sort(key=lambda r: (r["references"] != video_table, r["table"], r["column"]))

    cols = {i["version"]: set(i["facts"]["videofile_columns"]) for i in infos}
    anycol = set().union(*cols.values())

    def present(c):
        return c in anycol

    video = {"table": video_table, "id": "id"}
    if present("uuid"):
        video["uuid"] = "uuid"
    files = []
    for kind in ("raw", "processed"):
        f = {"kind": kind, "column": "%s_file" % kind}
        if present("%s_streamable_relative_path" % kind):
            f["streamable"] = "%s_streamable_relative_path" % kind
        files.append(f)
    video["files"] = files
    if present("frame_count"):
        video["frame_count"] = "frame_count"
    enc = sorted({c for i in infos for c in i["facts"].get("storage_mode_choices", [])
                  if c == "app_encrypted"})
    if present("storage_mode"):
        video["storage_mode"] = {"column": "storage_mode", "encrypted": enc}
    if present("frame_dir"):
        video["frame_dir"] = "frame_dir"
    if present("date_created"):
        # auto_now_add, like uploaded_at; stored as naive UTC text on SQLite.
        video["created_at"] = "date_created"
    video["hash"] = [c for c in ("raw_video_hash", "video_hash") if present(c)]
    profile = {
        "profile": 1,
        "name": "endoreg-db",
        "description": (
            "endoreg-db (Django), release lines 0.8.x (Oct 2025) through 1.6.x; generated by "
            "Fixtures/django/make-endoreg-db.sh from the migration state of releases %s"
            % ", ".join(releases)),
        "releases": releases,
        "video": video,
        "relations": rels,
    }
    # Check the union against every release before writing it.
    for info in infos:
        fks = {(d["table"], d["column"]): d for d in info["all_fks"]}
        for r in rels:
            d = fks.get((r["table"], r["column"]))
            if d and (d["references"] != r["references"] or d["on_delete"] != r["on_delete"]):
                raise SystemExit("%s: %s.%s is %s -> %s there, profile says %s -> %s" % (
                    info["version"], r["table"], r["column"], d["on_delete"], d["references"],
                    r["on_delete"], r["references"]))
        check_profile_against_django(profile, os.path.join(out_dir, "endoreg-db-%s" % info["version"]))
    write_json(profile_path, profile)
    print("  profile: %d relations from %s -> %s" % (len(rels), ", ".join(releases), profile_path))


def simulate(profile, db_path, video_ids):
    """medialib's rules (profile-format.md) applied to the database, in Python:
    returns (deleted {table: n}, nulled [(table, pk, column)], blockers [(table, pk)])."""
    con = sqlite3.connect(db_path)
    tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    cols = {t: table_keys(con, t)[0] for t in tables}
    pks = {t: table_keys(con, t)[1] for t in tables}
    rels = [r for r in profile["relations"] if r["table"] in cols and r["column"] in cols[r["table"]]]
    known = {(r["table"], r["column"]) for r in rels}
    unknown = []  # FKs in the database the profile does not name: treated as protect
    for t in tables:
        for fk in con.execute('PRAGMA foreign_key_list("%s")' % t):
            if (t, fk[3]) not in known:
                unknown.append({"table": t, "column": fk[3], "references": fk[2],
                                "to_column": fk[4] or "id", "on_delete": "protect"})
    vt = profile["video"]["table"]
    collected = {vt: set(video_ids)}
    todo = [(vt, set(video_ids))]
    nulled, blockers = set(), set()
    while todo:
        t, keys = todo.pop()
        for r in rels + unknown:
            if r["references"] != t or not keys:
                continue
            if r["to_column"] == pks[t][0]:
                vals = sorted(keys)
            else:
                q = 'SELECT "%s" FROM "%s" WHERE "%s" IN (%s)' % (
                    r["to_column"], t, pks[t][0], ",".join("?" * len(keys)))
                vals = [v for (v,) in con.execute(q, sorted(keys))]
            if not vals:
                continue
            pk = pks[r["table"]][0]
            q = 'SELECT "%s" FROM "%s" WHERE "%s" IN (%s)' % (
                pk, r["table"], r["column"], ",".join("?" * len(vals)))
            rows = {v for (v,) in con.execute(q, vals)}
            if not rows:
                continue
            od = r["on_delete"]
            if od == "cascade":
                new = rows - collected.setdefault(r["table"], set())
                if new:
                    collected[r["table"]] |= new
                    todo.append((r["table"], new))
            elif od == "set_null":
                nulled |= {(r["table"], x, r["column"]) for x in rows}
            elif od in ("protect", "restrict"):
                blockers |= {(r["table"], x) for x in rows}
            elif od == "do_nothing":
                pass
            else:
                raise SystemExit("simulate: on_delete %s not handled" % od)
    con.close()
    nulled = {n for n in nulled if n[1] not in collected.get(n[0], set())}
    blockers = {b for b in blockers if b[1] not in collected.get(b[0], set())}
    deleted = {t: len(v) for t, v in collected.items() if v}
    return deleted, nulled, blockers


def check_profile_against_django(profile, stem):
    """The profile alone must predict what Django's collector did."""
    exp = json.load(open(stem + ".expected.json"))
    db = stem + ".sqlite"
    invalid = exp["scenario"]["invalid_videos"]
    protected = [v for v in invalid if simulate(profile, db, [v])[2]]
    if protected != exp["protected_videos"]:
        raise SystemExit("%s: profile protects %s, Django %s" % (stem, protected, exp["protected_videos"]))
    deleted, nulled, _ = simulate(profile, db, exp["deleted_videos"])
    want_null = {(n["table"], n["pk"], n["column"]) for n in exp["nulled"]}
    if deleted != exp["deleted_counts"] or nulled != want_null:
        raise SystemExit("%s: profile predicts %s / %s, Django did %s / %s" % (
            stem, deleted, sorted(nulled), exp["deleted_counts"], sorted(want_null)))
    print("  profile reproduces Django's delete on %s" % os.path.basename(db))


def extract(wheel, dest):
    """Unpack endoreg_db/migrations/*.py from the release wheel, nothing else."""

    if os.path.exists(dest):
        shutil.rmtree(dest)
    n = 0
    with zipfile.ZipFile(wheel) as z:
        for name in sorted(z.namelist()):
            if name.startswith("endoreg_db/migrations/") and name.endswith(".py") and name.count("/") == 2:
                z.extract(name, dest)
                n += 1
    if not n:
        raise SystemExit("no migrations in " + wheel)
    print("  %s: %d migration files" % (os.path.basename(wheel), n))


def main(argv):
    if argv[1] == "extract":
        extract(argv[2], argv[3])
    elif argv[1] == "build":
        build(*argv[2:6])
    elif argv[1] == "pgbuild":
        pgbuild(*argv[2:6])
    elif argv[1] == "profile":
        write_profile(argv[2], argv[3], argv[4:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
