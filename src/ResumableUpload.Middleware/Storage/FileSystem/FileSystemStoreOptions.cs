namespace ResumableUpload.Middleware.Storage.FileSystem;

/// <summary>Options of the filesystem stores, bound from the <c>ResumableUploads:FileSystem</c> configuration section.</summary>
public sealed class FileSystemStoreOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "ResumableUploads:FileSystem";

    /// <summary>
    /// The directory that holds upload state and bytes. Relative paths are resolved against the host's content
    /// root. Default: <c>uploads</c>.
    /// </summary>
    public string RootPath { get; set; } = "uploads";
}
