export type SoakScale = 'ci' | 'default' | 'long';
export interface SoakContext {
  scale: SoakScale;
  log: (line: string) => void;
  deadline: number /* Date.now() ms by which to stop */;
}
export interface SoakResult {
  counts: Record<string, number>;
  failures: string[];
}
export interface SoakCampaign {
  name: string;
  title: string;
  run(ctx: SoakContext): Promise<SoakResult>;
}
