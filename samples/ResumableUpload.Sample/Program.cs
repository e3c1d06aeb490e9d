using ResumableUpload.Sample;

SampleApp.Create(args).Run();
