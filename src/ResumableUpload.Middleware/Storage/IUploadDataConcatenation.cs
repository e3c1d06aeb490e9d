namespace ResumableUpload.Middleware.Storage;

/// <summary>
/// An optional capability of an <see cref="IUploadDataStore"/>: assembling one upload's bytes from other uploads'
/// bytes. The tus <c>concatenation</c> extension is advertised only when the data store implements it.
/// </summary>
public interface IUploadDataConcatenation
{
    /// <summary>
    /// Writes the bytes of <paramref name="sourceKeys"/>, in order, as the bytes of <paramref name="targetKey"/>
    /// (replacing what it held). The sources are left as they are.
    /// </summary>
    ValueTask ConcatenateAsync(string targetKey, IReadOnlyList<string> sourceKeys, CancellationToken cancellationToken);
}
