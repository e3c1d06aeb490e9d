namespace ResumableUpload.Client;

/// <summary>A progress report of one upload, given to the <see cref="IProgress{T}"/> of an upload call.</summary>
/// <param name="BytesUploaded">The bytes the server holds or is receiving now, counted from the start of the file.</param>
/// <param name="TotalBytes">The length of the file.</param>
/// <param name="BytesPerSecond">A moving average of the sending speed; 0 until there is a first measurement.</param>
/// <param name="EstimatedTimeRemaining">The time left at the current speed, or <see langword="null"/> while the speed is unknown.</param>
public readonly record struct UploadProgress(long BytesUploaded, long TotalBytes, double BytesPerSecond, TimeSpan? EstimatedTimeRemaining)
{
    /// <summary>The share of the file uploaded, from 0 to 1 (1 for an empty file).</summary>
    public double Fraction => TotalBytes == 0 ? 1 : (double)BytesUploaded / TotalBytes;
}
