using System.Text.Json;

namespace ResumableUpload.Client;

/// <summary>
/// The default <see cref="IUploadResumeStore"/>: one JSON file, rewritten whole (through a temporary file and a
/// rename, so a crash never leaves half a file). One instance serialises its own writers; two processes sharing a
/// file should upload different files.
/// </summary>
public sealed class JsonFileUploadResumeStore : IUploadResumeStore, IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>
    /// A store in <c>ResumableUpload/uploads.json</c> under the user's local application data folder.
    /// </summary>
    public JsonFileUploadResumeStore()
        : this(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "ResumableUpload", "uploads.json"))
    {
    }

    /// <summary>A store in the given file, which need not exist yet.</summary>
    /// <param name="path">The JSON file.</param>
    public JsonFileUploadResumeStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        FilePath = Path.GetFullPath(path);
    }

    /// <summary>The JSON file.</summary>
    public string FilePath { get; }

    /// <inheritdoc />
    public async ValueTask<UploadResumeRecord?> GetAsync(string key, CancellationToken cancellationToken = default)
        => (await ListAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(r => r.Key == key);

    /// <inheritdoc />
    public ValueTask SetAsync(UploadResumeRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        return UpdateAsync(records =>
        {
            records.RemoveAll(r => r.Key == record.Key);
            records.Add(record);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default)
        => UpdateAsync(records => records.RemoveAll(r => r.Key == key), cancellationToken);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<UploadResumeRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _gate.Dispose();

    private async ValueTask UpdateAsync(Action<List<UploadResumeRecord>> change, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var records = await ReadAsync(cancellationToken).ConfigureAwait(false);
            change(records);
            Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
            var temporary = FilePath + "." + Environment.ProcessId + ".tmp";
            var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None);
            await using (stream.ConfigureAwait(false))
            {
                await JsonSerializer.SerializeAsync(stream, records, ClientJsonContext.Default.ListUploadResumeRecord, cancellationToken).ConfigureAwait(false);
            }

            File.Move(temporary, FilePath, overwrite: true);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async ValueTask<List<UploadResumeRecord>> ReadAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(FilePath))
        {
            return [];
        }

        try
        {
            var stream = new FileStream(FilePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            await using (stream.ConfigureAwait(false))
            {
                return await JsonSerializer.DeserializeAsync(stream, ClientJsonContext.Default.ListUploadResumeRecord, cancellationToken).ConfigureAwait(false) ?? [];
            }
        }
        catch (JsonException)
        {
            // A file that is not ours (or damaged) loses its records: the uploads start afresh instead of failing.
            return [];
        }
    }
}
